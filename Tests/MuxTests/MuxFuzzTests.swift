import Foundation
import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// Random and mutated input must never crash, hang or make the decoder/session hold more than a
/// frame. Normal runs feed 100,000+ inputs in a few seconds (debug build); set
/// `MUX_FUZZ_ITERATIONS` (e.g. 10000000) for a longer run and `MUX_SEED` to replay.
final class MuxFuzzTests: XCTestCase {
    private var seed: UInt64 = 0
    private var scale: Int = 1

    override func setUp() {
        self.seed = ProcessInfo.processInfo.environment["MUX_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        let iterations = ProcessInfo.processInfo.environment["MUX_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 100_000
        self.scale = max(1, iterations / 100_000)
    }

    /// A valid frame chosen at random, the corpus mutations start from.
    private func randomFrame(_ rng: inout SplitMix64) -> MuxFrame {
        let id = UInt32.random(in: 0...9, using: &rng)
        let payload = ByteBuffer(repeating: UInt8.random(in: 0...255, using: &rng), count: Int.random(in: 0...40, using: &rng))
        switch Int.random(in: 0...8, using: &rng) {
        case 0: return .open(streamID: id | 1, metadata: payload)
        case 1: return .data(streamID: max(id, 1), payload: payload)
        case 2: return .windowUpdate(streamID: max(id, 1), increment: UInt32.random(in: 1...UInt32(Int32.max), using: &rng))
        case 3: return .fin(streamID: max(id, 1))
        case 4: return .reset(streamID: max(id, 1), code: MuxErrorCode(rawValue: UInt32.random(in: 0...12, using: &rng)))
        case 5: return .ping(ack: Bool.random(using: &rng), payload: rng.next())
        case 6: return .goAway(lastStreamID: id, code: .noError, reason: payload)
        case 7: return .datagram(flowID: UInt32.random(in: 0...UInt32.max, using: &rng), payload: payload)
        default: return .unknown(type: UInt8.random(in: 8...255, using: &rng), id: id, length: Int.random(in: 0...20, using: &rng))
        }
    }

    /// One input: a valid preface (usually) and frames, then byte flips, truncation, insertions or
    /// pure random bytes.
    private func randomInput(_ rng: inout SplitMix64) -> ByteBuffer {
        var buffer = self.corpus.isEmpty ? self.freshInput(&rng) : self.corpus[Int.random(in: 0..<self.corpus.count, using: &rng)]
        return self.mutate(buffer: &buffer, &rng)
    }

    /// Valid inputs generated once; each iteration mutates a copy (cheaper than building frames).
    private var corpus: [ByteBuffer] = []

    private func freshInput(_ rng: inout SplitMix64) -> ByteBuffer {
        var buffer = ByteBuffer()
        if Int.random(in: 0..<10, using: &rng) != 0 {
            MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &buffer)
        }
        if Int.random(in: 0..<8, using: &rng) == 0 {
            for _ in 0..<Int.random(in: 0...8, using: &rng) { buffer.writeInteger(rng.next()) }
            return buffer
        }
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            MuxFrameEncoder.write(self.randomFrame(&rng), into: &buffer)
        }
        return buffer
    }

    private func mutate(buffer: inout ByteBuffer, _ rng: inout SplitMix64) -> ByteBuffer {
        let mutations = Int.random(in: 0...3, using: &rng)
        for _ in 0..<mutations where buffer.readableBytes > 0 {
            let at = Int.random(in: 0..<buffer.readableBytes, using: &rng)
            switch Int.random(in: 0...3, using: &rng) {
            case 0: buffer.setInteger(UInt8.random(in: 0...255, using: &rng), at: at)
            case 1: buffer.moveWriterIndex(to: at)
            case 2: buffer.setInteger(UInt8(0xFF), at: at)
            default:
                var tail = buffer.getSlice(at: at, length: buffer.readableBytes - at)!
                buffer.moveWriterIndex(to: at)
                buffer.writeInteger(UInt8.random(in: 0...255, using: &rng))
                buffer.writeBuffer(&tail)
            }
        }
        return buffer
    }

    func testDecoderNeverCrashesOnRandomAndMutatedInput() throws {
        var rng = SplitMix64(seed: self.seed)
        self.corpus = (0..<4096).map { _ in self.freshInput(&rng) }
        let maxFrameSize = MuxProtocol.minMaxFrameSize
        var frames = 0
        var errors = 0
        let start = Date()
        for _ in 0..<(100_000 * self.scale) {
            var input = self.randomInput(&rng)
            var decoder = MuxFrameDecoder(maxFrameSize: maxFrameSize)
            var steps = 0
            do {
                while let frame = try decoder.decode(buffer: &input) {
                    frames += 1
                    steps += 1
                    switch frame {
                    case .data(_, let p), .open(_, let p), .datagram(_, let p), .goAway(_, _, let p):
                        if p.readableBytes > maxFrameSize { return XCTFail("oversized payload; seed \(self.seed)") }
                    default: break
                    }
                    // Each decoded frame consumes at least a header, so this bounds the loop.
                    guard steps <= 1000 else { return XCTFail("decoder did not make progress; seed \(self.seed)") }
                }
            } catch is MuxError {
                errors += 1
            }
        }
        XCTAssertGreaterThan(frames, 0)
        XCTAssertGreaterThan(errors, 0)
        print("decoder fuzz: \(100_000 * self.scale) inputs, \(frames) frames, \(errors) rejected, \(String(format: "%.2f", Date().timeIntervalSince(start))) s, seed \(self.seed)")
    }

    func testDecoderNeverBuffersMoreThanOneFrame() throws {
        var reader = MuxFrameReader(maxFrameSize: 65536)
        var input = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &input)
        MuxFrameEncoder.writeHeader(length: 65536, type: .datagram, id: 1, into: &input)
        try reader.read(input) { _ in }
        // Trickle the payload of a frame that cannot be streamed: carried bytes never exceed one
        // frame, and a lying length is rejected before anything is carried for it.
        for _ in 0..<64 {
            try reader.read(ByteBuffer(repeating: 0, count: 1024)) { _ in }
            XCTAssertLessThanOrEqual(reader.carriedBytes, 65536 + 9)
        }
        XCTAssertEqual(reader.carriedBytes, 0)
        var lie = ByteBuffer()
        MuxFrameEncoder.writeHeader(length: 1 << 23, type: .data, id: 1, into: &lie)
        XCTAssertThrowsError(try reader.read(lie) { _ in })
    }

    /// Whole sessions fed random/mutated frames: no crash, limits hold, the session either keeps
    /// running or closes itself.
    func testSessionSurvivesRandomAndMutatedInput() throws {
        var rng = SplitMix64(seed: self.seed &+ 1)
        self.corpus = (0..<1024).map { _ in self.freshInput(&rng) }
        var config = MuxConfiguration.testDefault
        config.maxConcurrentStreams = 4
        config.maxFrameSize = MuxProtocol.minMaxFrameSize
        let start = Date()
        let inputs = 3_000 * self.scale
        var closed = 0
        let loop = EmbeddedEventLoop()
        for _ in 0..<inputs {
            let channel = EmbeddedChannel(loop: loop)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
            let session = try channel.pipeline.syncOperations.addMuxSession(
                role: Bool.random(using: &rng) ? .initiator : .responder, configuration: config, logger: .test,
                inboundStreamInitializer: { ch, _ in ch.eventLoop.makeSucceededVoidFuture() }
            )
            if Bool.random(using: &rng) {
                _ = session.openStream(metadata: ByteBuffer(string: "x"))
            }
            for _ in 0..<Int.random(in: 1...3, using: &rng) where channel.isActive {
                let input = self.randomInput(&rng)
                // Also feed it split at a random point.
                let cut = Int.random(in: 0...input.readableBytes, using: &rng)
                _ = try? channel.writeInbound(input.getSlice(at: 0, length: cut)!)
                if channel.isActive { _ = try? channel.writeInbound(input.getSlice(at: cut, length: input.readableBytes - cut)!) }
            }
            loop.run()
            XCTAssertLessThanOrEqual(session.openStreamCount, 2 * config.maxConcurrentStreams, "seed \(self.seed)")
            if !channel.isActive { closed += 1 }
            _ = try? channel.finish()
        }
        print("session fuzz: \(inputs) inputs, \(closed) closed the session, \(String(format: "%.2f", Date().timeIntervalSince(start))) s, seed \(self.seed)")
    }
}
