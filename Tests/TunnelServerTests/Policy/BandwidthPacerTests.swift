import NIOCore
import NIOEmbedded
import XCTest

@testable import TunnelServer

/// The pacer on EmbeddedChannels with the loop's virtual clock: reads pass within budget, are held
/// for the debt's time over it, several channels share one rate, and closing or removing cancels.
final class BandwidthPacerTests: XCTestCase {
    /// Sits between the pacer and the channel's head: counts the read requests that got through.
    final class ReadRecorder: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    struct Paced {
        let channel: EmbeddedChannel
        let recorder: ReadRecorder
        let pacer: BandwidthPacer
    }

    func paced(_ budget: BandwidthBudget, loop: EmbeddedEventLoop) throws -> Paced {
        let channel = EmbeddedChannel(loop: loop)
        let recorder = ReadRecorder()
        let pacer = BandwidthPacer(budget: budget)
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(pacer)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        return Paced(channel: channel, recorder: recorder, pacer: pacer)
    }

    func bytes(_ n: Int) -> ByteBuffer { ByteBuffer(repeating: 0x42, count: n) }

    func testWithinBudgetReadsPass() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 1_000_000, burst: 100_000), loop: loop)
        for _ in 0..<5 {
            try p.channel.writeInbound(bytes(10_000))
            p.channel.read()
        }
        XCTAssertEqual(p.recorder.reads, 5)
        var received = 0
        while let b = try p.channel.readInbound(as: ByteBuffer.self) { received += b.readableBytes }
        XCTAssertEqual(received, 50_000)
        XCTAssertTrue(try p.channel.finish().isClean)
    }

    func testOverBudgetReadHeldThenReleased() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 10_000), loop: loop)
        try p.channel.writeInbound(bytes(30_000))  // 20 000 bytes of debt: 200 ms
        // The data itself is never held.
        XCTAssertEqual(try p.channel.readInbound(as: ByteBuffer.self)?.readableBytes, 30_000)
        p.channel.read()
        p.channel.read()  // a second request while held stands in the same queue
        XCTAssertEqual(p.recorder.reads, 0)
        loop.advanceTime(by: .milliseconds(199))
        XCTAssertEqual(p.recorder.reads, 0)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertEqual(p.recorder.reads, 1)
        // Paid off: the next read passes at once.
        p.channel.read()
        XCTAssertEqual(p.recorder.reads, 2)
        _ = try p.channel.finish()
    }

    func testReadsDuringHoldExtendIt() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 10_000), loop: loop)
        try p.channel.writeInbound(bytes(20_000))  // 100 ms
        p.channel.read()
        // Bytes of a read cycle already under way arrive while the request is held: 100 ms more.
        try p.channel.writeInbound(bytes(10_000))
        loop.advanceTime(by: .milliseconds(100))
        XCTAssertEqual(p.recorder.reads, 0)
        loop.advanceTime(by: .milliseconds(100))
        XCTAssertEqual(p.recorder.reads, 1)
        _ = try p.channel.finish()
    }

    func testDatagramsAreCounted() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 1_000), loop: loop)
        let from = try SocketAddress(ipAddress: "192.0.2.1", port: 53)
        try p.channel.writeInbound(AddressedEnvelope(remoteAddress: from, data: bytes(11_000)))  // 100 ms
        p.channel.read()
        XCTAssertEqual(p.recorder.reads, 0)
        loop.advanceTime(by: .milliseconds(100))
        XCTAssertEqual(p.recorder.reads, 1)
        XCTAssertNotNil(try p.channel.readInbound(as: AddressedEnvelope<ByteBuffer>.self))
        _ = try p.channel.finish()
    }

    func testOtherMessagesPassUncounted() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 10, burst: 1), loop: loop)
        try p.channel.writeInbound("not bytes")
        p.channel.read()
        XCTAssertEqual(p.recorder.reads, 1)
        XCTAssertEqual(try p.channel.readInbound(as: String.self), "not bytes")
        _ = try p.channel.finish()
    }

    /// Two channels on one budget get the budget's rate together, not each: the aggregate property
    /// (GOST's per-connection limiter gives each the whole rate, go-gost/gost#646).
    func testTwoChannelsShareTheRate() throws {
        let loop = EmbeddedEventLoop()
        let budget = BandwidthBudget(bytesPerSecond: 200_000, burst: 20_000)
        let channels = [try paced(budget, loop: loop), try paced(budget, loop: loop)]
        var received = [0, 0]
        var granted = [0, 0]
        // Each channel could take 10 000 bytes every 10 ms (1 MB/s): the budget is what holds them.
        // A read request that got through delivers one chunk on the next tick, then (autoRead) the
        // channel asks again.
        for p in channels { p.channel.read() }
        for _ in 0..<1_000 {  // 10 virtual seconds
            for (i, p) in channels.enumerated() where p.recorder.reads > granted[i] {
                granted[i] = p.recorder.reads
                try p.channel.writeInbound(bytes(10_000))
                received[i] += 10_000
                _ = try p.channel.readInbound(as: ByteBuffer.self)
                p.channel.read()
            }
            loop.advanceTime(by: .milliseconds(10))
        }
        let total = received.reduce(0, +)
        // 10 s at 200 000 B/s, plus the burst and one chunk in flight per channel.
        XCTAssertGreaterThanOrEqual(total, 2_000_000 - 2 * 10_000)
        XCTAssertLessThanOrEqual(total, 2_000_000 + 20_000 + 2 * 10_000)
        // Both progressed (neither starved).
        XCTAssertGreaterThan(received[0], total / 4)
        XCTAssertGreaterThan(received[1], total / 4)
        for p in channels { _ = try p.channel.finish() }
    }

    func testCloseCancelsTheTimer() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 10_000), loop: loop)
        try p.channel.writeInbound(bytes(30_000))
        p.channel.read()
        XCTAssertEqual(p.recorder.reads, 0)
        _ = try p.channel.finish()
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(p.recorder.reads, 0)
    }

    func testInactiveCancelsTheTimer() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 10_000), loop: loop)
        try p.channel.writeInbound(bytes(30_000))
        p.channel.read()
        p.channel.pipeline.fireChannelInactive()
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(p.recorder.reads, 0)
        _ = try p.channel.finish()
    }

    func testRemovalLetsTheHeldReadGoAndCancels() throws {
        let loop = EmbeddedEventLoop()
        let p = try paced(BandwidthBudget(bytesPerSecond: 100_000, burst: 10_000), loop: loop)
        try p.channel.writeInbound(bytes(30_000))
        p.channel.read()
        XCTAssertEqual(p.recorder.reads, 0)
        try p.channel.pipeline.syncOperations.removeHandler(p.pacer).wait()
        // Unpaced now: the held request goes on at once (an autoRead channel would stall otherwise),
        // and the timer does not send a second one.
        XCTAssertEqual(p.recorder.reads, 1)
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(p.recorder.reads, 1)
        _ = try p.channel.finish()
    }
}
