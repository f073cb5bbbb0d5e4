import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

final class MuxSessionEmbeddedTests: XCTestCase {
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

    func testReceiverThatDoesNotReadGrantsNoWindow() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let (stream, recorder) = try pair.openClientStream()
        let total = 1024 * 1024
        var written = 0
        while written < total {
            stream.write(ByteBuffer(repeating: 0x61, count: 16384), promise: nil)
            written += 16384
        }
        stream.flush()
        try pair.interact()
        let server = pair.serverStreams.all[0]
        let serverStream = server.channel as! MuxStreamChannel
        let clientStream = stream as! MuxStreamChannel
        XCTAssertEqual(server.recorder.state.received.readableBytes, 0)
        XCTAssertEqual(serverStream.bufferedInboundBytes, MuxProtocol.initialStreamWindow)
        XCTAssertEqual(clientStream.bufferedOutboundBytes, total - MuxProtocol.initialStreamWindow)
        XCTAssertFalse(stream.isWritable)
        XCTAssertEqual(recorder.state.writabilityChanges, [false])
        // Each read() delivers what is buffered and grants it back; drain completely.
        for _ in 0..<100 where server.recorder.state.received.readableBytes < total {
            server.channel.read()
            try pair.interact()
        }
        XCTAssertEqual(server.recorder.state.received.readableBytes, total)
        XCTAssertEqual(clientStream.bufferedOutboundBytes, 0)
        XCTAssertTrue(stream.isWritable)
        XCTAssertEqual(recorder.state.writabilityChanges, [false, true])
    }

    func testPeerOverrunningTheWindowIsReset() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        let chunk = ByteBuffer(repeating: 1, count: 65536)
        for _ in 0..<4 { try pair.server.writeInbound(encode(.data(streamID: 1, payload: chunk))) }
        XCTAssertTrue(pair.serverStreams.all[0].channel.isActive)
        try pair.server.writeInbound(encode(.data(streamID: 1, payload: ByteBuffer(string: "x"))))
        XCTAssertFalse(pair.serverStreams.all[0].channel.isActive)
        let out = try decodeAll(try self.drain(pair.server), preface: false)
        XCTAssertTrue(out.contains(.reset(streamID: 1, code: .flowControlError)), "\(out)")
        XCTAssertTrue(pair.server.isActive, "a stream error does not end the session")
    }

    func testWindowOverflowIsReset() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        try pair.client.writeInbound(encode(.windowUpdate(streamID: 1, increment: UInt32(Int32.max))))
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual((recorder.state.errors.first as? MuxError)?.code, .flowControlError)
    }

    func testDataAfterFinIsResetStreamClosed() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer()), .fin(streamID: 1), .data(streamID: 1, payload: ByteBuffer(string: "late"))))
        let out = try decodeAll(try self.drain(pair.server), preface: false)
        XCTAssertTrue(out.contains(.reset(streamID: 1, code: .streamClosed)), "\(out)")
        try pair.server.writeInbound(encode(.open(streamID: 3, metadata: ByteBuffer()), .fin(streamID: 3), .fin(streamID: 3)))
        let out2 = try decodeAll(try self.drain(pair.server), preface: false)
        XCTAssertTrue(out2.contains(.reset(streamID: 3, code: .streamClosed)), "\(out2)")
    }

    func testFramesForClosedStreamsAreIgnored() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer()), .reset(streamID: 1, code: .cancel)))
        try pair.server.writeInbound(encode(.data(streamID: 1, payload: ByteBuffer(string: "x")), .windowUpdate(streamID: 1, increment: 5), .fin(streamID: 1), .reset(streamID: 1, code: .cancel)))
        XCTAssertTrue(pair.server.isActive)
    }

    func testFrameForNeverOpenedStreamClosesSessionWithGoAway() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.server.writeInbound(encode(.data(streamID: 7, payload: ByteBuffer(string: "x"))))
        let out = try decodeAll(try self.drain(pair.server), preface: false)
        guard case .goAway(_, .protocolError, _) = out.last else { return XCTFail("\(out)") }
        XCTAssertFalse(pair.server.isActive)
    }

    func testOpenWithWrongParityOrReusedIDClosesSession() throws {
        for bad in [encode(.open(streamID: 2, metadata: ByteBuffer())), encode(.open(streamID: 5, metadata: ByteBuffer()), .open(streamID: 3, metadata: ByteBuffer()))] {
            let pair = try EmbeddedMuxPair()
            try pair.server.writeInbound(bad)
            XCTAssertFalse(pair.server.isActive)
            pair.finish()
        }
    }

    func testBadPrefaceClosesSession() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let session = try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: .testDefault, logger: .test) { ch, _ in ch.eventLoop.makeSucceededVoidFuture() }
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        XCTAssertFalse(channel.isActive)
        XCTAssertTrue(session.isClosed)
    }

    func testLimitsRefuseExtraStreamsAndLargeMetadata() throws {
        var config = MuxConfiguration.testDefault
        config.maxConcurrentStreams = 2
        config.maxMetadataSize = 8
        let pair = try EmbeddedMuxPair(configuration: config)
        defer { pair.finish() }
        // Local limits.
        XCTAssertThrowsError(try pair.clientSession.openStream(metadata: ByteBuffer(string: "123456789")).wait()) {
            XCTAssertEqual($0 as? MuxError, MuxError.metadataTooLarge)
        }
        _ = try pair.openClientStream("a")
        _ = try pair.openClientStream("b")
        XCTAssertThrowsError(try pair.openClientStream("c")) { XCTAssertEqual($0 as? MuxError, MuxError.tooManyStreams) }
        try pair.interact()
        // A peer that ignores the limits gets RESETs, the session lives.
        try pair.server.writeInbound(encode(.open(streamID: 7, metadata: ByteBuffer())))
        try pair.server.writeInbound(encode(.open(streamID: 9, metadata: ByteBuffer(string: "123456789"))))
        let out = try decodeAll(try self.drain(pair.server), preface: false)
        XCTAssertTrue(out.contains(.reset(streamID: 7, code: .refusedStream)), "\(out)")
        XCTAssertTrue(out.contains(.reset(streamID: 9, code: .frameSizeError)), "\(out)")
        XCTAssertTrue(pair.server.isActive)
    }

    func testLargeWritesAreSplitIntoFramesOfThePeersMaxSize() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        _ = try pair.clientOutbound()
        stream.writeAndFlush(ByteBuffer(repeating: 7, count: 200_000), promise: nil)
        let frames = try decodeAll(try pair.clientOutbound(), preface: false)
        let sizes = frames.compactMap { frame -> Int? in
            if case .data(_, let p) = frame { return p.readableBytes }
            return nil
        }
        XCTAssertEqual(sizes, [65536, 65536, 65536, 200_000 - 3 * 65536])
    }

    func testPingMeasuresRTTAndPeerAnswersPings() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let rtt = pair.clientSession.ping()
        try pair.interact()
        XCTAssertGreaterThanOrEqual(try rtt.wait().nanoseconds, 0)
        XCTAssertNotNil(pair.clientSession.smoothedRTT)
        try pair.server.writeInbound(encode(.ping(ack: false, payload: 99)))
        XCTAssertEqual(try decodeAll(try self.drain(pair.server), preface: false), [.ping(ack: true, payload: 99)])
    }

    func testGoAwayRefusesNewStreamsAndClosesWhenDrained() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        pair.serverSession.goAway(reason: "restart")
        try pair.interact()
        XCTAssertTrue(pair.clientSession.isGoingAway)
        XCTAssertThrowsError(try pair.openClientStream()) { XCTAssertEqual($0 as? MuxError, MuxError.goingAway) }
        XCTAssertThrowsError(try pair.serverSession.openStream(metadata: ByteBuffer()).wait())
        // The open stream still works and finishes.
        let server = pair.serverStreams.all[0]
        stream.writeAndFlush(ByteBuffer(string: "still here"), promise: nil)
        try pair.interact()
        XCTAssertEqual(server.recorder.receivedString, "still here")
        XCTAssertTrue(pair.server.isActive)
        stream.close(mode: .output, promise: nil)
        server.channel.close(mode: .output, promise: nil)
        try pair.interact()
        XCTAssertTrue(recorder.state.inactive)
        XCTAssertFalse(pair.server.isActive, "drained session closes")
        XCTAssertTrue(pair.serverSession.isClosed)
    }

    /// `goAwayFuture` tells both sides the moment a drain starts (before the session closes), so
    /// an agent can open a replacement while the old session still carries its streams.
    func testGoAwayFutureCompletesOnBothSidesBeforeClose() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        try pair.interact()
        let seen = MuxLockedValue(false)
        pair.clientSession.goAwayFuture.whenSuccess { _ in seen.withLockedValue { $0 = true } }
        XCTAssertFalse(seen.withLockedValue { $0 }, "no go-away yet")
        pair.serverSession.goAway(reason: "restart")
        try pair.interact()
        XCTAssertEqual(try pair.serverSession.goAwayFuture.wait(), MuxGoAway(origin: .local, code: .noError, reason: "restart"))
        XCTAssertEqual(try pair.clientSession.goAwayFuture.wait(), MuxGoAway(origin: .peer, code: .noError, reason: "restart"))
        XCTAssertFalse(pair.clientSession.isClosed, "the open stream still drains")
        stream.close(promise: nil)
        try pair.interact()
        XCTAssertTrue(pair.clientSession.isClosed)
    }

    /// A go-away callback that closes the last stream (the relay closes the control stream) closes
    /// the transport at once: the GOAWAY must already be written, so the peer still learns it.
    func testGoAwayIsWrittenBeforeCallbacksRun() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        _ = try pair.openClientStream()
        try pair.interact()
        let server = pair.serverStreams.all[0].channel
        pair.serverSession.goAwayFuture.whenSuccess { _ in server.close(promise: nil) }
        let seen = MuxLockedValue<MuxGoAway?>(nil)
        pair.clientSession.goAwayFuture.whenSuccess { g in seen.withLockedValue { $0 = g } }
        pair.serverSession.goAway(reason: "drain")
        try pair.interact()
        XCTAssertEqual(seen.withLockedValue { $0 }, MuxGoAway(origin: .peer, code: .noError, reason: "drain"))
    }

    /// A session that ends without a GOAWAY fails the future (nothing leaks, nothing hangs).
    func testGoAwayFutureFailsWhenTheSessionEndsWithoutOne() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.interact()
        _ = pair.clientSession.close()
        try pair.interact()
        XCTAssertThrowsError(try pair.clientSession.goAwayFuture.wait()) { XCTAssertEqual($0 as? MuxError, MuxError.sessionClosed) }
    }

    func testGoAwayRefusesStreamsOpenedConcurrently() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverSession.goAway()
        let (stream, recorder) = try pair.openClientStream()  // crosses the GOAWAY on the wire
        _ = stream
        try pair.interact()
        XCTAssertEqual((recorder.state.errors.first as? MuxError)?.code, .refusedStream)
        XCTAssertEqual(pair.serverStreams.all.count, 0)
    }

    func testDatagramsAreDeliveredAndOversizedOnesDropped() throws {
        var config = MuxConfiguration.testDefault
        config.maxDatagramSize = 1000
        let received = MuxLockedValue<[(UInt32, String)]>([])
        let pair = try EmbeddedMuxPair(configuration: config)
        defer { pair.finish() }
        let loop = EmbeddedEventLoop()
        let a = EmbeddedChannel(loop: loop)
        let b = EmbeddedChannel(loop: loop)
        try a.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        try b.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let sa = try a.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: config, logger: .test) { c, _ in c.eventLoop.makeSucceededVoidFuture() }
        _ = try b.pipeline.syncOperations.addMuxSession(role: .responder, configuration: config, logger: .test, inboundStreamInitializer: { c, _ in c.eventLoop.makeSucceededVoidFuture() }) { flow, payload in
            received.withLockedValue { $0.append((flow, String(buffer: payload))) }
        }
        sa.sendDatagram(flowID: 7, ByteBuffer(string: "dns query"))
        sa.sendDatagram(flowID: 8, ByteBuffer(repeating: 0, count: 1001))
        sa.sendDatagram(flowID: 9, ByteBuffer(string: "second"))
        loop.run()
        while let bytes = try a.readOutbound(as: ByteBuffer.self) { try b.writeInbound(bytes) }
        // An oversized datagram from a peer that ignores the limit is dropped too.
        try b.writeInbound(encode(.datagram(flowID: 10, payload: ByteBuffer(repeating: 0, count: 1001))))
        let got = received.withLockedValue { $0 }
        XCTAssertEqual(got.map(\.0), [7, 9])
        XCTAssertEqual(got.map(\.1), ["dns query", "second"])
        XCTAssertEqual(sa.droppedDatagramCount, 1)
        XCTAssertTrue(b.isActive)
    }

    func testKeepaliveDetectsDeadPeer() throws {
        var config = MuxConfiguration.testDefault
        config.keepaliveInterval = .seconds(1)
        config.deadPeerTimeout = .seconds(3)
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let session = try channel.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: config, logger: .test) { c, _ in c.eventLoop.makeSucceededVoidFuture() }
        var preface = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &preface)
        try channel.writeInbound(preface)
        _ = try self.drain(channel)
        loop.advanceTime(by: .seconds(1))
        let pings = try decodeAll(try self.drain(channel), preface: false)
        guard case .ping(false, _) = pings.first else { return XCTFail("expected a keepalive ping, got \(pings)") }
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(3))
        XCTAssertFalse(channel.isActive)
        XCTAssertTrue(session.isClosed)
    }

    func testSessionCloseEndsStreamsWithError() throws {
        let pair = try EmbeddedMuxPair()
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        _ = pair.clientSession.close()
        pair.loop.run()
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual(recorder.state.errors.first as? MuxError, MuxError.sessionClosed)
        XCTAssertThrowsError(try pair.clientSession.openStream(metadata: ByteBuffer()).wait())
        pair.finish()
    }

    private func drain(_ channel: EmbeddedChannel) throws -> ByteBuffer {
        (channel.eventLoop as! EmbeddedEventLoop).run()
        var all = ByteBuffer()
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&bytes) }
        return all
    }
}

extension MuxSessionEmbeddedTests {
    /// A TLS handler delivers a whole burst of plaintext in one read: many frames in one large
    /// buffer must decode, not trip a buffer limit.
    func testOneLargeReadWithManyFramesDecodes() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()))
        for _ in 0..<3 { MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 65536)), into: &burst) }
        for id in stride(from: UInt32(3), through: 401, by: 2) {
            MuxFrameEncoder.write(.open(streamID: id, metadata: ByteBuffer(string: "x")), into: &burst)
            MuxFrameEncoder.write(.fin(streamID: id), into: &burst)
        }
        XCTAssertGreaterThan(burst.readableBytes, 196_608)
        try pair.server.writeInbound(burst)
        XCTAssertTrue(pair.server.isActive)
        XCTAssertEqual(pair.serverStreams.all.count, 201)
        XCTAssertEqual(pair.serverStreams.all[0].recorder.state.received.readableBytes, 196_608)
    }
}

extension MuxSessionEmbeddedTests {
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

    func testUnknownFrameTypesAreIgnored() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.server.writeInbound(encode(.unknown(type: 0x42, id: 0, length: 10), .unknown(type: 0xFF, id: 99, length: 0), .open(streamID: 1, metadata: ByteBuffer())))
        XCTAssertTrue(pair.server.isActive)
        XCTAssertEqual(pair.serverStreams.all.count, 1)
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

extension MuxSessionEmbeddedTests {
    func testGoAwayDrainTimeoutClosesWithOpenStreams() throws {
        var config = MuxConfiguration.testDefault
        config.goAwayDrainTimeout = .seconds(2)
        let pair = try EmbeddedMuxPair(configuration: config)
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        pair.clientSession.goAway(reason: "shutting down")
        try pair.interact()
        pair.loop.advanceTime(by: .seconds(1))
        XCTAssertTrue(stream.isActive, "streams may finish during the drain")
        pair.loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(pair.client.isActive)
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual(recorder.state.errors.first as? MuxError, MuxError.sessionClosed)
    }

    func testErrorGoAwayClosesAtOnce() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        _ = try pair.openClientStream()
        pair.clientSession.goAway(code: .internalError, reason: "fatal")
        pair.loop.run()
        XCTAssertFalse(pair.client.isActive)
    }
}

extension MuxSessionEmbeddedTests {
    /// Records reads, read-completes, input end, errors and close, in order; with
    /// `readAgainOnComplete` it asks for the next read when a read completes, as a splice does
    /// once its partner drains.
    final class ReadEvents: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var events: [String] = []
        let readAgainOnComplete: Bool
        init(readAgainOnComplete: Bool = false) { self.readAgainOnComplete = readAgainOnComplete }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.events.append("read \(self.unwrapInboundIn(data).readableBytes)")
            context.fireChannelRead(data)
        }
        func channelReadComplete(context: ChannelHandlerContext) {
            self.events.append("complete")
            context.fireChannelReadComplete()
            if self.readAgainOnComplete { context.read() }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { self.events.append("fin") }
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { self.events.append("error") }
        func channelInactive(context: ChannelHandlerContext) {
            self.events.append("inactive")
            context.fireChannelInactive()
        }
    }

    /// Several DATA frames for a stream in one transport read reach its pipeline as several reads
    /// and one read-complete at the burst's end, as a socket's reads do: a relay that flushes on
    /// read-complete then writes once per burst, not once per frame. A FIN completes what came
    /// before it first.
    func testReadsOfOneBurstCompleteOnceAtItsEnd() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (a, b, c) = (ReadEvents(), ReadEvents(), ReadEvents())
        pair.serverStreams.extraHandler = { n in [a, b, c][min(n, 2)] }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()), .open(streamID: 3, metadata: ByteBuffer()))
        for _ in 0..<3 {
            MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 1000)), into: &burst)
            MuxFrameEncoder.write(.data(streamID: 3, payload: ByteBuffer(repeating: 2, count: 10)), into: &burst)
        }
        MuxFrameEncoder.write(.fin(streamID: 3), into: &burst)
        try pair.server.writeInbound(burst)
        XCTAssertEqual(a.events, ["read 1000", "read 1000", "read 1000", "complete"])
        XCTAssertEqual(b.events, ["read 10", "read 10", "read 10", "complete", "fin"])
        // The bytes are credited back once the reads complete: one window update per stream.
        let updates = try decodeAll(try drain(pair.server), preface: false).filter {
            if case .windowUpdate = $0 { return true } else { return false }
        }
        XCTAssertLessThanOrEqual(updates.count, 2)
        try pair.server.writeInbound(encode(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 5))))
        XCTAssertEqual(a.events.suffix(2), ["read 5", "complete"])
        // Data then a RESET in one burst: the reads complete before the stream closes.
        try pair.server.writeInbound(encode(
            .open(streamID: 5, metadata: ByteBuffer()), .data(streamID: 5, payload: ByteBuffer(repeating: 3, count: 7)),
            .reset(streamID: 5, code: .cancel)))
        XCTAssertEqual(c.events, ["read 7", "complete", "error", "inactive"])
    }
}

extension MuxSessionEmbeddedTests {
    /// Small payloads waiting for a reader keep their (large) read buffers alive only within the
    /// session's budget; past it they are copied, so a slow reader costs about its window, not
    /// several times it. Nothing is lost or reordered either way.
    func testWaitingSlicesOfLargeReadsAreCopiedPastTheBudget() throws {
        var sessionBound = MuxConfiguration.testDefault
        sessionBound.maxPinnedReadCapacity = 300_000
        var streamBound = MuxConfiguration.testDefault
        streamBound.maxPinnedReadCapacityPerStream = 300_000
        for configuration in [sessionBound, streamBound] {
            try self.checkWaitingSlicesAreCopiedPastTheBudget(configuration)
        }
    }

    private func checkWaitingSlicesAreCopiedPastTheBudget(_ configuration: MuxConfiguration) throws {
        let pair = try EmbeddedMuxPair(configuration: configuration)
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        let stream = try XCTUnwrap(pair.serverStreams.all.first?.channel as? MuxStreamChannel)
        var expected = ByteBuffer()
        for k in 0..<3 {
            var read = ByteBufferAllocator().buffer(capacity: 256 * 1024)
            let payload = ByteBuffer(repeating: UInt8(k), count: 1000)
            MuxFrameEncoder.write(.data(streamID: 1, payload: payload), into: &read)
            expected.writeImmutableBuffer(payload)
            try pair.server.writeInbound(read)
            XCTAssertEqual(stream.pinnedCapacity, read.capacity, "read \(k): only the first fits the budget")
        }
        stream.read()
        XCTAssertEqual(stream.pinnedCapacity, 0)
        XCTAssertEqual(pair.serverStreams.all[0].recorder.state.received, expected)
    }
}

extension MuxSessionEmbeddedTests {
    /// A read buffer shared by several streams' waiting payloads counts once in the budget.
    func testASharedReadBufferCountsOnce() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxPinnedReadCapacity = 300_000
        let pair = try EmbeddedMuxPair(configuration: configuration)
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        var read = ByteBufferAllocator().buffer(capacity: 256 * 1024)
        for id in stride(from: UInt32(1), through: 7, by: 2) {
            MuxFrameEncoder.write(.open(streamID: id, metadata: ByteBuffer()), into: &read)
            MuxFrameEncoder.write(.data(streamID: id, payload: ByteBuffer(repeating: UInt8(id), count: 1000)), into: &read)
        }
        try pair.server.writeInbound(read)
        let streams = pair.serverStreams.all.map { $0.channel as! MuxStreamChannel }
        XCTAssertEqual(streams.count, 4)
        XCTAssertEqual(streams.map(\.pinnedCapacity), Array(repeating: read.capacity, count: 4), "all four kept as slices")
        for stream in streams { stream.read() }
        XCTAssertEqual(streams.map(\.pinnedCapacity), [0, 0, 0, 0])
        for (k, entry) in pair.serverStreams.all.enumerated() {
            XCTAssertEqual(entry.recorder.state.received, ByteBuffer(repeating: UInt8(2 * k + 1), count: 1000))
        }
    }
}

extension MuxSessionEmbeddedTests {
    /// A RESET in the burst that delivered data: the owed read-complete comes first, but a read
    /// asked for in it cannot deliver what the reset dropped, and the stream closes once.
    func testResetInABurstCompletesReadsThenClosesOnce() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let handler = ReadEvents(readAgainOnComplete: true)
        pair.serverStreams.extraHandler = { _ in handler }
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        pair.serverStreams.all[0].channel.read()
        try pair.server.writeInbound(encode(
            .data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 5)),
            .data(streamID: 1, payload: ByteBuffer(repeating: 2, count: 6)),
            .reset(streamID: 1, code: .cancel)))
        pair.loop.run()
        XCTAssertEqual(handler.events, ["read 5", "complete", "error", "inactive"])
    }

    /// Empty DATA frames cost no window; a stream that is not reading does not queue them.
    func testEmptyDataFramesAreNotQueued() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let events = ReadEvents()
        pair.serverStreams.extraHandler = { _ in events }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()))
        for _ in 0..<10_000 { MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer()), into: &burst) }
        MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 7, count: 3)), into: &burst)
        try pair.server.writeInbound(burst)
        pair.serverStreams.all[0].channel.read()
        XCTAssertEqual(events.events, ["read 3", "complete"])
    }
}
