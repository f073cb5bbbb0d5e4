import NIOCore
import XCTest

@testable import Mux

/// The session's frame reader: whatever the read boundaries, the same frames and the same bytes
/// per stream come out, payloads are slices of the reads, and at most one frame is carried.
final class MuxFrameReaderTests: XCTestCase {
    /// Frames with DATA coalesced per stream (pieces of one frame are equivalent to the frame).
    private func normalized(_ frames: [MuxFrame]) -> [MuxFrame] {
        var out: [MuxFrame] = []
        for frame in frames {
            if case .data(let id, var payload) = frame, case .data(let lastID, var last)? = out.last, lastID == id {
                last.writeBuffer(&payload)
                out[out.count - 1] = .data(streamID: id, payload: last)
            } else {
                out.append(frame)
            }
        }
        return out
    }

    private func input() -> (ByteBuffer, [MuxFrame]) {
        var frames: [MuxFrame] = [.preface(version: MuxProtocol.version, maxFrameSize: 65536)]
        var buffer = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &buffer)
        let body: [MuxFrame] = [
            .open(streamID: 1, metadata: ByteBuffer(string: "target")),
            .data(streamID: 1, payload: ByteBuffer(bytes: (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) })),
            .windowUpdate(streamID: 1, increment: 1000),
            .data(streamID: 3, payload: ByteBuffer(repeating: 9, count: 3000)),
            .data(streamID: 3, payload: ByteBuffer()),
            .datagram(flowID: 7, payload: ByteBuffer(repeating: 5, count: 20000)),
            .ping(ack: false, payload: 42),
            .fin(streamID: 1),
            .goAway(lastStreamID: 3, code: .noError, reason: ByteBuffer(string: "bye")),
        ]
        for frame in body { MuxFrameEncoder.write(frame, into: &buffer) }
        frames += body
        return (buffer, frames)
    }

    func testAnySplitGivesTheSameFramesAndBytes() throws {
        let (whole, expected) = self.input()
        var rng = SystemRandomNumberGenerator()
        var splits: [[Int]] = [[1], [9], [4096], [16384], [whole.readableBytes]]
        for _ in 0..<200 { splits.append((0..<8).map { _ in Int.random(in: 1...20000, using: &rng) }) }
        for sizes in splits {
            var reader = MuxFrameReader(maxFrameSize: 65536)
            var frames: [MuxFrame] = []
            var rest = whole
            var k = 0
            var maxCarry = 0
            while rest.readableBytes > 0 {
                let piece = rest.readSlice(length: min(sizes[k % sizes.count], rest.readableBytes))!
                k += 1
                try reader.read(piece) { frames.append($0) }
                maxCarry = max(maxCarry, reader.carriedBytes)
            }
            XCTAssertTrue(self.normalized(frames) == self.normalized(expected), "splits \(sizes)")
            XCTAssertEqual(reader.carriedBytes, 0)
            XCTAssertLessThanOrEqual(maxCarry, 20000 + MuxProtocol.frameHeaderSize, "only a non-DATA frame is carried")
        }
    }

    /// A large DATA frame split across reads arrives as pieces that share the reads' storage:
    /// nothing is gathered into a new buffer.
    func testDataPayloadsAreSlicesOfTheReads() throws {
        var reader = MuxFrameReader(maxFrameSize: 65536)
        var head = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &head)
        MuxFrameEncoder.writeHeader(length: 60000, type: .data, id: 1, into: &head)
        var pieces: [ByteBuffer] = []
        try reader.read(head) { if case .data(_, let p) = $0 { pieces.append(p) } }
        XCTAssertEqual(pieces.count, 0, "a header alone is consumed, nothing delivered")
        XCTAssertEqual(reader.carriedBytes, 0)
        let reads = [ByteBuffer(repeating: 1, count: 30000), ByteBuffer(repeating: 2, count: 30000)]
        for read in reads {
            try reader.read(read) { if case .data(_, let p) = $0 { pieces.append(p) } }
        }
        XCTAssertEqual(pieces.map(\.readableBytes), [30000, 30000])
        for (piece, read) in zip(pieces, reads) {
            piece.withUnsafeReadableBytes { p in
                read.withUnsafeReadableBytes { r in XCTAssertEqual(p.baseAddress, r.baseAddress, "a slice, not a copy") }
            }
        }
    }

    func testLyingLengthIsRejectedBeforeAnythingIsCarried() throws {
        var reader = MuxFrameReader(maxFrameSize: 65536)
        var input = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &input)
        try reader.read(input) { _ in }
        var lie = ByteBuffer()
        MuxFrameEncoder.writeHeader(length: 1 << 23, type: .open, id: 1, into: &lie)
        try reader.read(lie.getSlice(at: 0, length: 5)!) { _ in }
        XCTAssertEqual(reader.carriedBytes, 5)
        XCTAssertThrowsError(try reader.read(lie.getSlice(at: 5, length: 4)!) { _ in }) {
            XCTAssertEqual(($0 as? MuxError)?.code, .frameSizeError)
        }
        var fresh = MuxFrameReader(maxFrameSize: 65536)
        XCTAssertThrowsError(try fresh.read(ByteBuffer(string: "GE")) { _ in }, "a bad preface is refused from its first bytes")
    }
}
