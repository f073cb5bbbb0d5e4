import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import Mux

final class MuxLoopbackTests: XCTestCase {
    /// Many streams, random sizes and chunking, random interleaving, random early half-closes; the
    /// server echoes; checksums must match at both ends. Bounded in count and time.
    func testRandomizedStreamsEchoWithMatchingChecksums() throws {
        let seed = ProcessInfo.processInfo.environment["MUX_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let serverSums = MuxLockedValue<[UInt32: Checksum]>([:])
        let pair = try LoopbackMuxPair { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                try channel.pipeline.syncOperations.addHandler(EchoHandler())
            }
        }
        defer { pair.shutdown() }
        _ = serverSums

        let streamCount = 48
        var expectations: [(sent: EventLoopFuture<Checksum>, echoed: EventLoopFuture<Checksum>)] = []
        for _ in 0..<streamCount {
            // A fifth of the streams half-close at once (no data); the rest send up to 256 KiB.
            let total = Int.random(in: 0..<5, using: &rng) == 0 ? 0 : Int.random(in: 1...256 * 1024, using: &rng)
            let maxChunk = [64, 1500, 16 * 1024, 100_000].randomElement(using: &rng)!
            let writerSeed = rng.next()
            let loop = pair.client.eventLoop
            let sent = loop.makePromise(of: Checksum.self)
            let echoed = loop.makePromise(of: Checksum.self)
            let stream = pair.client.openStream(metadata: ByteBuffer(string: "s")) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                    try channel.pipeline.syncOperations.addHandlers([
                        RandomWriter(seed: writerSeed, total: total, maxChunk: maxChunk, done: sent),
                        SinkHandler(done: echoed),
                    ])
                }
            }
            stream.whenFailure { sent.fail($0); echoed.fail($0) }
            expectations.append((sent.futureResult, echoed.futureResult))
        }
        let deadline = Date().addingTimeInterval(30)
        for (index, expectation) in expectations.enumerated() {
            let all = expectation.sent.and(expectation.echoed)
            let result = try self.wait(all, until: deadline, seed: seed)
            XCTAssertEqual(result.0, result.1, "stream #\(index) echo differs; seed \(seed) (rerun with MUX_SEED=\(seed))")
        }
        // Every stream ends on both sides.
        for _ in 0..<200 where pair.client.openStreamCount + pair.server.openStreamCount > 0 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(pair.client.openStreamCount, 0, "seed \(seed)")
        XCTAssertEqual(pair.server.openStreamCount, 0, "seed \(seed)")
    }

    /// One stream's reader stops: other streams keep their throughput, and the stalled stream's
    /// buffered bytes stay within the window on the receiver and the watermark on the sender.
    func testSlowReaderDoesNotStallOtherStreams() throws {
        let stalled = MuxLockedValue<Channel?>(nil)
        let pair = try LoopbackMuxPair { channel, metadata in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                if String(buffer: metadata) == "stall" {
                    try channel.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
                    stalled.withLockedValue { $0 = channel }
                } else {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
        }
        defer { pair.shutdown() }
        let size = 8 * 1024 * 1024

        func transfer() throws -> TimeInterval {
            let start = Date()
            let sent = pair.client.eventLoop.makePromise(of: Checksum.self)
            let echoed = pair.client.eventLoop.makePromise(of: Checksum.self)
            _ = pair.client.openStream(metadata: ByteBuffer(string: "fast")) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                    try channel.pipeline.syncOperations.addHandlers([
                        RandomWriter(seed: 1, total: size, maxChunk: 65536, done: sent),
                        SinkHandler(done: echoed),
                    ])
                }
            }
            let (a, b) = try self.wait(sent.futureResult.and(echoed.futureResult), until: Date().addingTimeInterval(30), seed: 0)
            XCTAssertEqual(a, b)
            return Date().timeIntervalSince(start)
        }

        let baseline = try transfer()
        // Stall a stream: the writer keeps writing while the channel is writable.
        let stalledSent = pair.client.eventLoop.makePromise(of: Checksum.self)
        let stalledClient = try pair.client.openStream(metadata: ByteBuffer(string: "stall")) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RandomWriter(seed: 2, total: 64 * 1024 * 1024, maxChunk: 65536, done: stalledSent))
            }
        }.wait()
        // Let it fill its window.
        for _ in 0..<300 {
            let buffered = try pair.client.eventLoop.submit { (stalledClient as! MuxStreamChannel).sendWindow.available }.wait()
            if buffered == 0 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let withStall = try transfer()
        print("slow reader: 8 MiB echo alone \(String(format: "%.3f", baseline)) s, beside a stalled stream \(String(format: "%.3f", withStall)) s")
        XCTAssertLessThan(withStall, max(baseline * 3, baseline + 1.0), "a stalled stream slowed another one")

        let serverChannel = try XCTUnwrap(stalled.withLockedValue { $0 }) as! MuxStreamChannel
        let (serverBuffered, window) = try serverChannel.eventLoop.submit {
            (serverChannel.bufferedInboundBytes, serverChannel.receiveWindow.size)
        }.wait()
        let clientBuffered = try pair.client.eventLoop.submit { (stalledClient as! MuxStreamChannel).bufferedOutboundBytes }.wait()
        XCTAssertEqual(window, MuxProtocol.initialStreamWindow, "a reader that does not read does not grow its window")
        XCTAssertLessThanOrEqual(serverBuffered, window)
        XCTAssertGreaterThan(serverBuffered, 0)
        XCTAssertLessThanOrEqual(clientBuffered, MuxConfiguration().streamWriteBufferWaterMark.high + 65536)
        XCTAssertFalse(stalledClient.isWritable)
    }

    func testPingOverLoopbackAndGoAwayDrain() throws {
        let pair = try LoopbackMuxPair { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                try channel.pipeline.syncOperations.addHandler(EchoHandler())
            }
        }
        defer { pair.shutdown() }
        let rtt = try pair.client.ping().wait()
        XCTAssertLessThan(rtt, .seconds(1))
        let echoed = pair.client.eventLoop.makePromise(of: Checksum.self)
        let sent = pair.client.eventLoop.makePromise(of: Checksum.self)
        let stream = try pair.client.openStream(metadata: ByteBuffer()) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                try channel.pipeline.syncOperations.addHandler(SinkHandler(done: echoed))
            }
        }.wait()
        // Go away only once the server has seen the stream (else it is refused, correctly).
        for _ in 0..<500 where pair.server.openStreamCount == 0 { Thread.sleep(forTimeInterval: 0.002) }
        XCTAssertEqual(pair.server.openStreamCount, 1)
        pair.server.goAway(reason: "test")
        // The open stream still completes after the go-away.
        let payload = ByteBuffer(string: "after go-away")
        stream.writeAndFlush(payload).whenComplete { result in
            var c = Checksum()
            c.update(payload)
            sent.completeWith(result.map { c })
        }
        stream.close(mode: .output, promise: nil)
        XCTAssertEqual(try echoed.futureResult.wait(), try sent.futureResult.wait())
        try pair.server.closeFuture.wait()
        try pair.client.closeFuture.wait()
    }

    func testAsyncStreams() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let (initializer, inbound) = MuxSession.makeAsyncInboundStreams()
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: .testDefault, logger: .test, inboundStreamInitializer: initializer)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let sessionPromise = group.next().makePromise(of: MuxSession.self)
        let client = try await ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                sessionPromise.succeed(
                    try channel.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: .testDefault, logger: .test) { c, _ in
                        c.eventLoop.makeSucceededVoidFuture()
                    })
            }
        }.connect(to: server.localAddress!).get()
        let session = try await sessionPromise.futureResult.get()

        async let serverSide: String = {
            for await stream in inbound {
                let target = String(buffer: stream.metadata)
                return try await stream.channel.executeThenClose { input, output in
                    var received = ""
                    for try await chunk in input { received += String(buffer: chunk) }
                    try await output.write(ByteBuffer(string: "\(target):\(received)"))
                    return received
                }
            }
            return ""
        }()
        let stream = try await session.openAsyncStream(metadata: ByteBuffer(string: "svc"))
        let reply = try await stream.executeThenClose { input, output in
            try await output.write(ByteBuffer(string: "hi"))
            output.finish()
            var reply = ""
            for try await chunk in input { reply += String(buffer: chunk) }
            return reply
        }
        let received = try await serverSide
        XCTAssertEqual(received, "hi")
        XCTAssertEqual(reply, "svc:hi")
        try await client.close()
        try await server.close()
    }

    private func wait<T: Sendable>(_ future: EventLoopFuture<T>, until deadline: Date, seed: UInt64) throws -> T {
        let box = MuxLockedValue<Result<T, Error>?>(nil)
        future.whenComplete { result in box.withLockedValue { $0 = result } }
        while Date() < deadline {
            if let result = box.withLockedValue({ $0 }) { return try result.get() }
            Thread.sleep(forTimeInterval: 0.002)
        }
        XCTFail("timed out; seed \(seed)")
        throw ChannelError.connectTimeout(.seconds(30))
    }
}

extension MuxLoopbackTests {
    /// When the transport is backed up (the peer stopped reading its socket), datagrams are dropped
    /// and counted, never queued without bound.
    func testDatagramsAreDroppedWhenTransportIsBackedUp() throws {
        let received = MuxLockedValue(0)
        var config = MuxConfiguration.testDefault
        config.maxDatagramSize = 1200
        let pair = try LoopbackMuxPair(configuration: config, datagramHandler: { _, _ in received.withLockedValue { $0 += 1 } }) {
            channel, _ in channel.eventLoop.makeSucceededVoidFuture()
        }
        defer { pair.shutdown() }
        let payload = ByteBuffer(repeating: 0xAB, count: 1200)
        let client = pair.client
        // A burst in one event-loop tick with a reading peer: delivered or dropped, never queued.
        let burst = 1000
        try client.eventLoop.submit {
            for i in 0..<burst { client.sendDatagram(flowID: UInt32(i % 7), payload) }
        }.wait()
        for _ in 0..<500 where received.withLockedValue({ $0 }) + client.droppedDatagramCount < burst {
            Thread.sleep(forTimeInterval: 0.002)
        }
        let delivered = received.withLockedValue { $0 }
        print("datagrams: burst of \(burst) with a reading peer: \(delivered) delivered, \(client.droppedDatagramCount) dropped")
        XCTAssertEqual(delivered + client.droppedDatagramCount, burst)
        XCTAssertGreaterThan(delivered, burst / 2)

        // The server stops reading its socket: the transport backs up and datagrams are dropped.
        try pair.server.channel.setOption(ChannelOptions.autoRead, value: false).wait()
        let droppedBefore = client.droppedDatagramCount
        let total = 20_000
        try client.eventLoop.submit {
            for i in 0..<total { client.sendDatagram(flowID: UInt32(i % 7), payload) }
        }.wait()
        // 24 MB offered; the socket buffers take a few MB at most, the rest must be dropped.
        let dropped = client.droppedDatagramCount - droppedBefore
        print("datagrams: \(total) offered to a backed-up transport, \(dropped) dropped")
        XCTAssertGreaterThan(dropped, total / 2)
        let pending = try client.channel.getOption(ChannelOptions.bufferedWritableBytes).wait()
        XCTAssertLessThan(pending, 8 * 1024 * 1024, "the transport holds a bounded amount")
        XCTAssertTrue(client.channel.isActive)
    }
}

extension MuxLoopbackTests {
    /// On a long link (20 ms each way) a stream whose reader keeps up grows its window well past
    /// the initial 256 KiB, so throughput is not capped at 256 KiB per RTT.
    func testWindowAutoTunesOnALongLink() throws {
        let serverStream = MuxLockedValue<Channel?>(nil)
        let done = MuxLockedValue<EventLoopPromise<Checksum>?>(nil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let delay = TimeAmount.milliseconds(20)
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundDelayHandler(delay: delay))
                    _ = try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: .testDefault, logger: .test) { stream, _ in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                            let promise = stream.eventLoop.makePromise(of: Checksum.self)
                            done.withLockedValue { $0 = promise }
                            serverStream.withLockedValue { $0 = stream }
                            try stream.pipeline.syncOperations.addHandler(SinkHandler(done: promise, countOnly: true))
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let sessionPromise = group.next().makePromise(of: MuxSession.self)
        let client = try ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(InboundDelayHandler(delay: delay))
                sessionPromise.succeed(try channel.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: .testDefault, logger: .test) { c, _ in c.eventLoop.makeSucceededVoidFuture() })
            }
        }.connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let session = try sessionPromise.futureResult.wait()
        let rtt = try session.ping().wait()
        XCTAssertGreaterThanOrEqual(rtt, .milliseconds(40))

        let size = 24 * 1024 * 1024
        let sent = session.eventLoop.makePromise(of: Checksum.self)
        let start = Date()
        _ = try session.openStream(metadata: ByteBuffer()) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(RandomWriter(seed: 3, total: size, maxChunk: 65536, done: sent))
            }
        }.wait()
        _ = try sent.futureResult.wait()
        var received: Checksum?
        for _ in 0..<1000 {
            if let promise = done.withLockedValue({ $0 }) {
                received = try promise.futureResult.wait()
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(received?.count, size)
        let stream = try XCTUnwrap(serverStream.withLockedValue { $0 }) as! MuxStreamChannel
        let window = try stream.eventLoop.submit { stream.receiveWindow.size }.wait()
        let fixedWindowSeconds = Double(size) / Double(MuxProtocol.initialStreamWindow) * 0.04
        print("long link: 24 MiB in \(String(format: "%.2f", elapsed)) s (a fixed 256 KiB window needs >= \(String(format: "%.1f", fixedWindowSeconds)) s), window grew to \(window / 1024) KiB")
        XCTAssertGreaterThanOrEqual(window, 2 * 1024 * 1024)
        XCTAssertLessThan(elapsed, fixedWindowSeconds / 2)
    }
}

extension MuxLoopbackTests {
    /// A peer that sends PINGs but never reads the answers is cut off, not buffered for.
    func testPingFloodWithoutReadingClosesTheSession() throws {
        let config = {
            var c = MuxConfiguration.testDefault
            c.maxReactiveFramesWhileBackedUp = 200
            return c
        }()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let sessionPromise = group.next().makePromise(of: MuxSession.self)
        let server = try ServerBootstrap(group: group)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 1024, high: 2048))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    sessionPromise.succeed(try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: config, logger: .test) { c, _ in c.eventLoop.makeSucceededVoidFuture() })
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        // A raw client that never reads.
        let client = try ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let session = try sessionPromise.futureResult.wait()
        var flood = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &flood)
        for i in 0..<100_000 { MuxFrameEncoder.write(.ping(ack: false, payload: UInt64(i)), into: &flood) }
        client.writeAndFlush(flood, promise: nil)
        let closed = session.closeFuture.map { true }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !session.isClosed { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertTrue(session.isClosed, "the flooding peer was not cut off")
        XCTAssertTrue(try closed.wait())
    }
}
