import NIOCore
import NIOEmbedded
import XCTest

@testable import Shared

final class HandshakeAndGlueTests: XCTestCase {
    func testReaderHandsBytesAfterTheHandshakeToTheNextHandler() throws {
        let channel = EmbeddedChannel()
        let reader = HandshakeReader(limit: 64)
        try channel.pipeline.syncOperations.addHandler(reader)
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        reader.parse({ $0.readBytes(length: 3) }, promise: promise)
        try channel.writeInbound(ByteBuffer(bytes: [1, 2]))
        let done = Flag()
        promise.futureResult.whenComplete { _ in done.value = true }
        XCTAssertFalse(done.value, "three bytes are needed")
        try channel.writeInbound(ByteBuffer(bytes: [3, 4, 5]))
        XCTAssertEqual(try promise.futureResult.wait(), [1, 2, 3])
        try channel.pipeline.syncOperations.removeHandler(reader).wait()
        XCTAssertEqual(try channel.readInbound(as: ByteBuffer.self), ByteBuffer(bytes: [4, 5]))
    }

    func testReaderRefusesAnOversizedHandshake() throws {
        let channel = EmbeddedChannel()
        let reader = HandshakeReader(limit: 8)
        try channel.pipeline.syncOperations.addHandler(reader)
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        reader.parse({ _ in nil }, promise: promise)
        try channel.writeInbound(ByteBuffer(repeating: 0, count: 9))
        XCTAssertThrowsError(try promise.futureResult.wait()) { error in
            XCTAssertEqual((error as? EngineError)?.kind, .limitExceeded)
        }
    }

    func testReaderFailsOnEOFDuringHandshake() throws {
        let channel = EmbeddedChannel()
        let reader = HandshakeReader()
        try channel.pipeline.syncOperations.addHandler(reader)
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        reader.parse({ $0.readBytes(length: 10) }, promise: promise)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertThrowsError(try promise.futureResult.wait())
    }

    func testGlueForwardsBytesAndHalfClose() throws {
        let loop = EmbeddedEventLoop()
        let a = EmbeddedChannel(loop: loop)
        let b = EmbeddedChannel(loop: loop)
        try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        try GlueHandler.join(a, b)
        try a.writeInbound(ByteBuffer(string: "hello"))
        XCTAssertEqual(try b.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "hello"))
        try b.writeInbound(ByteBuffer(string: "back"))
        XCTAssertEqual(try a.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "back"))
        // a's peer half-closes: b's output is shut (EmbeddedChannel cannot half-close, so it closes),
        // and the glue never drops what was already in flight.
        a.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        loop.run()
        XCTAssertFalse(b.isActive)
    }

    func testGlueStopsReadingWhilePartnerIsNotWritable() throws {
        let loop = EmbeddedEventLoop()
        let a = EmbeddedChannel(loop: loop)
        let b = EmbeddedChannel(loop: loop)
        let reads = ReadCounter()
        try a.pipeline.syncOperations.addHandler(reads)
        try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        try GlueHandler.join(a, b)
        let before = reads.count
        a.read()
        XCTAssertEqual(reads.count, before + 1)
        b.isWritable = false
        b.pipeline.fireChannelWritabilityChanged()
        a.read()
        XCTAssertEqual(reads.count, before + 1, "no read while the partner cannot take bytes")
        b.isWritable = true
        b.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(reads.count, before + 2, "the held read is issued once the partner drains")
    }
}

/// Counts `read()` calls that reach the head of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// A flag set from a future callback; EmbeddedEventLoop runs callbacks on the test thread.
final class Flag: @unchecked Sendable {
    var value = false
}

final class CrossLoopGlueTests: XCTestCase {
    /// A channel on one loop glued to a channel on another (as a public connection and a Mux stream
    /// usually are) moves bytes both ways and passes end-of-input on.
    func testGlueAcrossEventLoops() throws {
        let loopA = EmbeddedEventLoop()
        let loopB = EmbeddedEventLoop()
        let a = EmbeddedChannel(loop: loopA)
        let b = EmbeddedChannel(loop: loopB)
        try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        try GlueHandler.join(a, b)
        loopB.run()
        try a.writeInbound(ByteBuffer(string: "ping"))
        loopB.run()
        XCTAssertEqual(try b.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "ping"))
        try b.writeInbound(ByteBuffer(string: "pong"))
        loopA.run()
        XCTAssertEqual(try a.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "pong"))
        b.isWritable = false
        b.pipeline.fireChannelWritabilityChanged()
        loopA.run()
        let reads = ReadCounter()
        try a.pipeline.syncOperations.addHandler(reads, position: .first)
        a.read()
        XCTAssertEqual(reads.count, 0, "the partner on the other loop said it is full")
        b.isWritable = true
        b.pipeline.fireChannelWritabilityChanged()
        loopA.run()
        XCTAssertEqual(reads.count, 1)
        a.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        loopB.run()
        XCTAssertFalse(b.isActive)
    }
}
