import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// Streams opened, half-closed, closed and reset, as both sides see them.
final class MuxStreamLifecycleTests: XCTestCase {
    func testOpenCarriesMetadataAndDataFlowsWithoutRoundTrip() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream("10.1.2.3:443")
        stream.writeAndFlush(ByteBuffer(string: "hello"), promise: nil)
        // Before any reply from the server: OPEN and DATA are already on the wire, in order.
        let frames = try decodeAll(try pair.clientOutbound(), preface: false)
        XCTAssertEqual(frames, [.open(streamID: 1, metadata: ByteBuffer(string: "10.1.2.3:443")), .data(streamID: 1, payload: ByteBuffer(string: "hello"))])
        try pair.server.writeInbound(encode(frames[0], frames[1]))
        try pair.interact()
        let inbound = pair.serverStreams.all
        XCTAssertEqual(inbound.count, 1)
        XCTAssertEqual(String(buffer: inbound[0].metadata), "10.1.2.3:443")
        XCTAssertEqual(inbound[0].recorder.receivedString, "hello")
        XCTAssertEqual(try inbound[0].channel.getOption(MuxStreamIDOption()).wait(), 1)
        XCTAssertEqual(pair.clientSession.openStreamCount, 1)
        XCTAssertEqual(pair.serverSession.openStreamCount, 1)
    }

    func testStreamIDParityByRole() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (a, _) = try pair.openClientStream()
        let (b, _) = try pair.openClientStream()
        XCTAssertEqual(try a.getOption(MuxStreamIDOption()).wait(), 1)
        XCTAssertEqual(try b.getOption(MuxStreamIDOption()).wait(), 3)
        let s = try pair.serverSession.openStream(metadata: ByteBuffer()).wait()
        XCTAssertEqual(try s.getOption(MuxStreamIDOption()).wait(), 2)
        try pair.interact()
        XCTAssertEqual(pair.clientStreams.all.count, 1)
    }

    func testHalfCloseBothWaysThenClosed() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        stream.write(ByteBuffer(string: "request"), promise: nil)
        let halfClosed = stream.close(mode: .output)
        try pair.interact()
        try halfClosed.wait()
        let server = pair.serverStreams.all[0]
        XCTAssertEqual(server.recorder.receivedString, "request")
        XCTAssertTrue(server.recorder.state.inputClosed)
        XCTAssertTrue(server.channel.isActive)
        // The other direction still works after the half-close.
        server.channel.write(ByteBuffer(string: "response"), promise: nil)
        server.channel.close(mode: .output, promise: nil)
        try pair.interact()
        XCTAssertEqual(recorder.receivedString, "response")
        XCTAssertTrue(recorder.state.inputClosed)
        XCTAssertFalse(stream.isActive)
        XCTAssertFalse(server.channel.isActive)
        XCTAssertTrue(recorder.state.inactive)
        XCTAssertTrue(server.recorder.state.errors.isEmpty)
        XCTAssertEqual(pair.clientSession.openStreamCount, 0)
        XCTAssertEqual(pair.serverSession.openStreamCount, 0)
    }

    func testWriteAfterHalfCloseFails() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        let halfClosed = stream.close(mode: .output)
        try pair.interact()
        try halfClosed.wait()
        XCTAssertThrowsError(try stream.writeAndFlush(ByteBuffer(string: "x")).wait())
        XCTAssertThrowsError(try stream.close(mode: .output).wait())
    }

    func testFinWithoutHalfClosureClosesTheStream() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.halfClosure = false
        let (stream, recorder) = try pair.openClientStream()
        stream.write(ByteBuffer(string: "bye"), promise: nil)
        stream.close(mode: .output, promise: nil)
        try pair.interact()
        let server = pair.serverStreams.all[0]
        XCTAssertEqual(server.recorder.receivedString, "bye")
        XCTAssertFalse(server.channel.isActive)
        XCTAssertFalse(stream.isActive)
        XCTAssertTrue(recorder.state.inputClosed)
    }

    func testGracefulCloseDeliversEverythingThenStopsPeer() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        stream.write(ByteBuffer(string: "last words"), promise: nil)
        let closed = stream.close()
        try pair.interact()
        try closed.wait()
        let server = pair.serverStreams.all[0]
        XCTAssertEqual(server.recorder.receivedString, "last words")
        XCTAssertTrue(server.recorder.state.inputClosed)
        XCTAssertFalse(server.channel.isActive, "RESET(NO_ERROR) after FIN closes the peer")
        XCTAssertTrue(server.recorder.state.errors.isEmpty, "a graceful close is not an error: \(server.recorder.state.errors)")
    }

    func testResetWithCodeReachesPeerAsError() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        try pair.interact()
        stream.triggerUserOutboundEvent(MuxStreamResetEvent(code: .cancel), promise: nil)
        try pair.interact()
        let server = pair.serverStreams.all[0]
        XCTAssertFalse(server.channel.isActive)
        XCTAssertEqual(server.recorder.state.errors.first as? MuxError, MuxError.streamReset(.cancel))
        XCTAssertFalse(stream.isActive)
    }

    func testRejectedInboundStreamIsReset() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.reject = true
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual(recorder.state.errors.first as? MuxError, MuxError.streamReset(.streamRejected))
        XCTAssertEqual(pair.serverSession.openStreamCount, 0)
    }

    func testResetAfterLocalFinAndRemoteResetNoErrorWhileOpen() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        // half-closed (local) --RESET(CANCEL) received--> closed with error
        let (a, ra) = try pair.openClientStream()
        a.close(mode: .output, promise: nil)
        try pair.interact()
        try pair.client.writeInbound(encode(.reset(streamID: 1, code: .cancel)))
        XCTAssertFalse(a.isActive)
        XCTAssertEqual(ra.state.errors.first as? MuxError, MuxError.streamReset(.cancel))
        // open --RESET(NO_ERROR) received--> buffered data delivered, closed without error,
        // pending writes failed
        pair.clientStreams.autoRead = true
        let (b, rb) = try pair.openClientStream(autoRead: false)
        try pair.interact()
        try pair.client.writeInbound(encode(.data(streamID: 3, payload: ByteBuffer(string: "tail")), .fin(streamID: 3), .reset(streamID: 3, code: .noError)))
        XCTAssertTrue(b.isActive, "buffered data is still to be read")
        b.read()
        XCTAssertEqual(rb.receivedString, "tail")
        XCTAssertTrue(rb.state.inputClosed)
        XCTAssertFalse(b.isActive)
        XCTAssertTrue(rb.state.errors.isEmpty, "\(rb.state.errors)")
    }

    func testStreamRegistrationEventsReachInitializerHandlers() throws {
        final class Events: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = ByteBuffer
            var events: [String] = []
            func channelRegistered(context: ChannelHandlerContext) { self.events.append("registered") }
            func channelActive(context: ChannelHandlerContext) { self.events.append("active") }
            func channelInactive(context: ChannelHandlerContext) { self.events.append("inactive") }
            func channelUnregistered(context: ChannelHandlerContext) { self.events.append("unregistered") }
        }
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let events = Events()
        let stream = try pair.clientSession.openStream(metadata: ByteBuffer()) { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(events) }
        }.wait()
        stream.triggerUserOutboundEvent(MuxStreamResetEvent(code: .cancel), promise: nil)
        try pair.interact()
        XCTAssertEqual(events.events, ["registered", "active", "inactive", "unregistered"])
    }
}
