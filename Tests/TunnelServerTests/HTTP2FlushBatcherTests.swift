import NIOCore
import NIOEmbedded
import XCTest

@testable import TunnelServer

/// The flush batcher: flushes asked for during one loop turn reach TLS as one, and a flush from
/// outside a batch passes at once.
final class HTTP2FlushBatcherTests: XCTestCase {
    /// Counts the flushes that get past the batcher (where TLS would be).
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var flushes = 0
        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
        }
    }

    func testFlushesAskedForInOneTurnLeaveAsOne() throws {
        let counter = FlushCounter()
        let batcher = HTTP2FlushBatcher()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(batcher)
        // Three streams' answers (here the channel itself stands for each stream: its flush runs
        // down through the batcher, as a child's flush reaches it through NIOHTTP2's handler).
        for i in 0..<3 {
            channel.write(ByteBuffer(string: "answer \(i)"), promise: nil)
            batcher.flushSoon(channel)
        }
        XCTAssertEqual(counter.flushes, 0, "nothing flushed before the loop turn ends")
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self))
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 1)
        for i in 0..<3 {
            XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "answer \(i)"))
        }
        // A flush outside a batch (NIOHTTP2's own, e.g. a SETTINGS ack) is not held.
        channel.write(ByteBuffer(string: "settings ack"), promise: nil)
        channel.flush()
        XCTAssertEqual(counter.flushes, 2)
        // The next turn's requests make a batch of their own.
        batcher.flushSoon(channel)
        batcher.flushSoon(channel)
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 3)
        XCTAssertNoThrow(try channel.finish())
    }
}
