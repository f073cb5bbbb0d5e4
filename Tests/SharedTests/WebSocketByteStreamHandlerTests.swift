import NIOCore
import NIOEmbedded
import NIOWebSocket
import Shared
import XCTest

/// The byte-stream adapter on an `EmbeddedChannel`: frames to bytes and back, masking by role,
/// control frames, and what it refuses.
final class WebSocketByteStreamHandlerTests: XCTestCase {
    func channel(_ role: WebSocketByteStreamHandler.Role) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: WebSocketByteStreamHandler(role: role))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], masked: Bool, fin: Bool = true) -> WebSocketFrame {
        let key: WebSocketMaskingKey? = masked ? WebSocketMaskingKey([1, 2, 3, 4])! : nil
        var data = ByteBuffer(bytes: bytes)
        if let key { data.webSocketMask(key) }
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
    }

    func testBinaryAndContinuationFramesBecomeBytes() throws {
        let c = try channel(.server)
        try c.writeInbound(frame(.binary, [1, 2, 3], masked: true, fin: false))
        try c.writeInbound(frame(.continuation, [4, 5], masked: true))
        try c.writeInbound(frame(.binary, [], masked: true))
        XCTAssertEqual(try c.readInbound(as: ByteBuffer.self), ByteBuffer(bytes: [1, 2, 3]))
        XCTAssertEqual(try c.readInbound(as: ByteBuffer.self), ByteBuffer(bytes: [4, 5]))
        XCTAssertNil(try c.readInbound(as: ByteBuffer.self))
        XCTAssertTrue(c.isActive)
    }

    func testClientMasksAndLargeWritesAreSplit() throws {
        let c = try channel(.client)
        let payload = (0..<(WebSocketByteStreamHandler.maxOutboundFrame * 2 + 10)).map { UInt8(truncatingIfNeeded: $0) }
        try c.writeOutbound(ByteBuffer(bytes: payload))
        var joined: [UInt8] = []
        var frames = 0
        while let f = try c.readOutbound(as: WebSocketFrame.self) {
            XCTAssertEqual(f.opcode, .binary)
            XCTAssertTrue(f.fin)
            XCTAssertNotNil(f.maskKey, "a client masks every frame")
            XCTAssertLessThanOrEqual(f.data.readableBytes, WebSocketByteStreamHandler.maxOutboundFrame)
            joined += Array(f.data.readableBytesView)
            frames += 1
        }
        XCTAssertEqual(frames, 3)
        XCTAssertEqual(joined, payload)
    }

    func testServerDoesNotMaskAndRefusesUnmaskedFrames() throws {
        let c = try channel(.server)
        try c.writeOutbound(ByteBuffer(bytes: [9]))
        XCTAssertNil(try c.readOutbound(as: WebSocketFrame.self)?.maskKey)
        XCTAssertThrowsError(try c.writeInbound(frame(.binary, [1], masked: false)))
        let close = try c.readOutbound(as: WebSocketFrame.self)
        XCTAssertEqual(close?.opcode, .connectionClose)
        var data = close!.data
        XCTAssertEqual(data.readWebSocketErrorCode(), .protocolError)
        XCTAssertFalse(c.isActive)
    }

    func testPingIsAnsweredWithPong() throws {
        let c = try channel(.client)
        try c.writeInbound(frame(.ping, [7, 7], masked: false))
        let pong = try c.readOutbound(as: WebSocketFrame.self)
        XCTAssertEqual(pong?.opcode, .pong)
        XCTAssertEqual(pong?.data, ByteBuffer(bytes: [7, 7]), "outbound frames carry their payload unmasked; the encoder masks")
        XCTAssertNil(try c.readInbound(as: ByteBuffer.self))
        try c.writeInbound(frame(.pong, [], masked: false))
        XCTAssertNil(try c.readOutbound(as: WebSocketFrame.self))
    }

    func testCloseFrameIsEchoedAndClosesTheConnection() throws {
        let c = try channel(.client)
        try c.writeInbound(frame(.connectionClose, [0x03, 0xe9], masked: false))
        let echo = try c.readOutbound(as: WebSocketFrame.self)
        XCTAssertEqual(echo?.opcode, .connectionClose)
        XCTAssertEqual(echo?.data, ByteBuffer(bytes: [0x03, 0xe9]))
        XCTAssertFalse(c.isActive)
    }

    func testClosingSendsACloseFrameAndLaterWritesFail() throws {
        let c = try channel(.server)
        let done = c.eventLoop.makePromise(of: Void.self)
        c.close(mode: .output, promise: done)
        XCTAssertNoThrow(try done.futureResult.wait())
        var close = try XCTUnwrap(try c.readOutbound(as: WebSocketFrame.self))
        XCTAssertEqual(close.opcode, .connectionClose)
        XCTAssertEqual(close.data.readWebSocketErrorCode(), .normalClosure)
        XCTAssertThrowsError(try c.writeOutbound(ByteBuffer(bytes: [1])))
    }

    func testTextFramesAreRefused() throws {
        let c = try channel(.client)
        XCTAssertThrowsError(try c.writeInbound(frame(.text, Array("hi".utf8), masked: false)))
        var close = try XCTUnwrap(try c.readOutbound(as: WebSocketFrame.self))
        XCTAssertEqual(close.data.readWebSocketErrorCode(), .unacceptableData)
        XCTAssertFalse(c.isActive)
    }

    /// Behind swift-nio's frame decoder (as the relay runs it): a frame over the limit is refused
    /// with close code 1009 and the connection closes, before its payload is buffered.
    func testOversizedFrameIsRefusedWithMessageTooBig() throws {
        let c = EmbeddedChannel()
        try c.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: WebSocketByteStreamHandler.maxInboundFrame)))
        try c.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        try c.pipeline.syncOperations.addHandler(WebSocketByteStreamHandler(role: .server))
        try c.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // FIN + binary, masked, 64-bit length of 1 MiB, a mask key; no payload yet.
        var header = ByteBuffer(bytes: [0x82, 0xff])
        header.writeInteger(UInt64(1 << 20))
        header.writeBytes([1, 2, 3, 4])
        XCTAssertThrowsError(try c.writeInbound(header))
        let out = try XCTUnwrap(try c.readOutbound(as: ByteBuffer.self))
        var all = out
        while var more = try c.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&more) }
        XCTAssertEqual(Array(all.readableBytesView), [0x88, 0x02, 0x03, 0xf1], "a close frame with 1009 (message too big)")
        XCTAssertFalse(c.isActive)
    }
}
