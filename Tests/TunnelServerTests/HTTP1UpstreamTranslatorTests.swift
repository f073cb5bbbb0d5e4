import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import XCTest

@testable import TunnelServer

/// The `http1` upstream as the h2 side sees it: NIO's HTTP/1.1 client codec and the translator on
/// one channel, fed real bytes. Request parts become an HTTP/1.1 request on the wire; the
/// origin's bytes become h2 frame payloads (one HEADERS with END_STREAM for an answer complete in
/// its head, trailers as trailing HEADERS, 1xx as interim heads); a `Connection: close` answer is
/// reported as not reusable; a second exchange on the same channel works (keep-alive reuse).
final class HTTP1UpstreamTranslatorTests: XCTestCase {
    final class Events: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        var payloads: [HTTP2Frame.FramePayload] = []
        var notKeepAlive = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { payloads.append(unwrapInboundIn(data)) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is HTTP1UpstreamTranslator.NotKeepAlive { notKeepAlive += 1 }
        }
    }

    func makeChannel() throws -> (EmbeddedChannel, Events) {
        let channel = EmbeddedChannel()
        let events = Events()
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(informationalResponseStrategy: .forward)))
        try channel.pipeline.syncOperations.addHandler(HTTP1UpstreamTranslator())
        try channel.pipeline.syncOperations.addHandler(events)
        return (channel, events)
    }

    func written(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while var buffer = try channel.readOutbound(as: IOData.self).flatMap({ data -> ByteBuffer? in
            if case .byteBuffer(let b) = data { return b }
            return nil
        }) {
            out += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return out
    }

    func headers(_ payload: HTTP2Frame.FramePayload?) -> (HPACKHeaders, Bool)? {
        if case .headers(let h) = payload { return (h.headers, h.endStream) }
        return nil
    }

    func testARequestWithBodyAndTrailersAndAChunkedAnswerWithTrailers() throws {
        let (channel, events) = try makeChannel()
        let head: HPACKHeaders = [":method": "POST", ":scheme": "https", ":authority": "app.test", ":path": "/up", "te": "trailers", "x-a": "1"]
        try channel.writeOutbound(HTTP2Frame.FramePayload.headers(.init(headers: head)))
        try channel.writeOutbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "hello")))))
        try channel.writeOutbound(HTTP2Frame.FramePayload.headers(.init(headers: ["x-sum": "5"], endStream: true)))
        let wire = try written(channel)
        XCTAssertTrue(wire.hasPrefix("POST /up HTTP/1.1\r\n"), wire)
        XCTAssertTrue(wire.contains("host: app.test\r\n"), wire)
        XCTAssertTrue(wire.contains("transfer-encoding: chunked\r\n"), wire)
        XCTAssertFalse(wire.contains("te: trailers"), wire)
        XCTAssertTrue(wire.hasSuffix("5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n"), wire)

        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nX-B: 2\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n"))
        XCTAssertEqual(events.payloads.count, 4)
        XCTAssertEqual(headers(events.payloads[0])?.0.first(name: ":status"), "100")
        let final = headers(events.payloads[1])
        XCTAssertEqual(final?.0.first(name: ":status"), "200")
        XCTAssertEqual(final?.0.first(name: "x-b"), "2")
        XCTAssertEqual(final?.1, false)
        XCTAssertFalse(final?.0.contains(name: "transfer-encoding") ?? true)
        XCTAssertFalse(final?.0.contains(name: "connection") ?? true)
        guard case .data(let d) = events.payloads[2], case .byteBuffer(let body) = d.data else { return XCTFail("\(events.payloads)") }
        XCTAssertEqual(String(buffer: body), "abc")
        let trailers = headers(events.payloads[3])
        XCTAssertEqual(trailers?.0.first(name: "grpc-status"), "0")
        XCTAssertEqual(trailers?.1, true)
        XCTAssertEqual(events.notKeepAlive, 0)

        // The same channel carries the next exchange (a pooled upstream): an answer complete in
        // its head is one HEADERS with END_STREAM; HEAD's answer has no body despite its length.
        events.payloads = []
        try channel.writeOutbound(HTTP2Frame.FramePayload.headers(.init(headers: [":method": "HEAD", ":scheme": "https", ":authority": "app.test", ":path": "/h"], endStream: true)))
        XCTAssertTrue(try written(channel).hasPrefix("HEAD /h HTTP/1.1\r\n"))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"))
        XCTAssertEqual(events.payloads.count, 1)
        XCTAssertEqual(headers(events.payloads.first)?.1, true)
        XCTAssertEqual(headers(events.payloads.first)?.0.first(name: "content-length"), "42")
        _ = try channel.finish()
    }

    func testAnAnswerThatClosesItsConnectionIsReported() throws {
        let (channel, events) = try makeChannel()
        try channel.writeOutbound(HTTP2Frame.FramePayload.headers(.init(headers: [":method": "GET", ":scheme": "https", ":authority": "a.test", ":path": "/"], endStream: true)))
        XCTAssertTrue(try written(channel).hasPrefix("GET / HTTP/1.1\r\nhost: a.test\r\n"))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
        XCTAssertEqual(events.notKeepAlive, 1)
        XCTAssertEqual(headers(events.payloads.first)?.1, true)
        _ = try channel.finish()
    }
}
