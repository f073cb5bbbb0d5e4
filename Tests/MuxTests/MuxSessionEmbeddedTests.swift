import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// The session-level services on EmbeddedChannels: pings and RTT, keepalive, datagrams, closing.
final class MuxSessionEmbeddedTests: XCTestCase {
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
}
