import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// What a session does with input that breaks the protocol or its limits: stream errors reset the stream, session errors close the session with GOAWAY.
final class MuxProtocolErrorTests: XCTestCase {
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

    func testUnknownFrameTypesAreIgnored() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.server.writeInbound(encode(.unknown(type: 0x42, id: 0, length: 10), .unknown(type: 0xFF, id: 99, length: 0), .open(streamID: 1, metadata: ByteBuffer())))
        XCTAssertTrue(pair.server.isActive)
        XCTAssertEqual(pair.serverStreams.all.count, 1)
    }
}
