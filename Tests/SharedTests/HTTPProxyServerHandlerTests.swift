import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import Shared

/// `HTTPProxyServerHandler` in the pipeline `HTTPHandler` builds (the real request decoder and
/// response encoder), on embedded channels: raw bytes in from the client, the bytes the origin and
/// the client get out. Dials are answered by the test with an embedded origin channel.
final class HTTPProxyServerHandlerTests: XCTestCase {
    func testAbsoluteFormRequestIsRewrittenAndAnswered() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test:8080/a?b=1 HTTP/1.1\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(rig.dials, [HostPort(host: "origin.test", port: 8080)])
        let origin = try rig.answerDial()
        XCTAssertEqual(try origin.output(), "GET /a?b=1 HTTP/1.1\r\nAccept: */*\r\nHost: origin.test:8080\r\n\r\n")
        try origin.send("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhi")
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertTrue(rig.client.isActive, "kept alive")
        XCTAssertTrue(origin.isActive, "the origin said it may be reused")
    }

    func testPipelinedRequestsWaitUnreadAndReuseTheOriginConnection() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test/1 HTTP/1.1\r\n\r\nGET http://origin.test/2 HTTP/1.1\r\n\r\n")
        let origin = try rig.answerDial()
        XCTAssertEqual(try origin.output(), "GET /1 HTTP/1.1\r\nHost: origin.test\r\n\r\n", "only the first goes")
        let reads = rig.reads.count
        rig.client.read()
        XCTAssertEqual(rig.reads.count, reads, "nothing more is read while a request waits")
        try origin.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        XCTAssertEqual(try origin.output(), "GET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n")
        XCTAssertEqual(rig.reads.count, reads, "still answering the second")
        try origin.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        XCTAssertEqual(rig.reads.count, reads + 1, "the held read goes once both are answered")
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        XCTAssertEqual(rig.dials.count, 1, "one origin connection for both")
    }

    func testRequestBodyStreamsOnlyWhileTheOriginTakesIt() throws {
        let rig = try ProxyRig()
        try rig.send("POST http://origin.test/up HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc")
        let origin = try rig.answerDial()
        XCTAssertEqual(try origin.output(), "POST /up HTTP/1.1\r\nContent-Length: 6\r\nHost: origin.test\r\n\r\nabc", "the body goes before its end has arrived")
        origin.isWritable = false
        origin.pipeline.fireChannelWritabilityChanged()
        let reads = rig.reads.count
        rig.client.read()
        XCTAssertEqual(rig.reads.count, reads, "the origin is full")
        origin.isWritable = true
        origin.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(rig.reads.count, reads + 1)
        try rig.send("de")
        XCTAssertEqual(try origin.output(), "de", "flushed as it comes, not only at the end")
        try rig.send("f")
        XCTAssertEqual(try origin.output(), "f")
    }

    func testProxyAuthentication() throws {
        let rig = try ProxyRig(auth: Authenticator([Credentials(username: "alice", password: "s3cret")]))
        try rig.send("GET http://origin.test/ HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6bm9wZQ==\r\n\r\n")
        XCTAssertEqual(try rig.client.output(), Self.errorPage(407, "Proxy Authentication Required", "proxy authentication required", extra: "Proxy-Authenticate: Basic realm=\"proxy\"\r\n"))
        XCTAssertFalse(rig.client.isActive)
        XCTAssertEqual(rig.dials, [])
        let good = try ProxyRig(auth: Authenticator([Credentials(username: "alice", password: "s3cret")]))
        try good.send("GET http://origin.test/ HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n")
        XCTAssertEqual(good.dials, [HostPort(host: "origin.test", port: 80)])
        XCTAssertEqual(try good.answerDial().output(), "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n", "the proxy's credentials are not passed on")
    }

    func testRequestsThatAreNotForAProxyAre400() throws {
        let relative = try ProxyRig()
        try relative.send("GET /a HTTP/1.1\r\nHost: origin.test\r\n\r\n")
        XCTAssertEqual(try relative.client.output(), Self.errorPage(400, "Bad Request", "this is a proxy: send absolute-form requests (http://host/path) or CONNECT"))
        XCTAssertFalse(relative.client.isActive)
        let connect = try ProxyRig()
        try connect.send("CONNECT origin.test HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try connect.client.output(), Self.errorPage(400, "Bad Request", "CONNECT needs host:port"))
        XCTAssertEqual(relative.dials + connect.dials, [])
    }

    func testMalformedRequestIs400AndAnOversizeHeadIs431() throws {
        let garbage = try ProxyRig()
        try? garbage.send("\u{1}\u{2} nonsense\r\n\r\n")
        let page = try garbage.client.output()
        XCTAssertTrue(page.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), page)
        XCTAssertTrue(page.hasSuffix("400 Bad Request: malformed request: invalid HTTP method\n"), page)
        XCTAssertFalse(garbage.client.isActive)
        let big = try ProxyRig(maxHeaderBytes: 64)
        try? big.send("GET http://origin.test/ HTTP/1.1\r\nX-Big: \(String(repeating: "x", count: 100))\r\n\r\n")
        XCTAssertEqual(try big.client.output(), Self.errorPage(431, "Request Header Fields Too Large", "request header fields larger than the limit"))
    }

    func testUnreachableTargetIs502AndATimeoutIs504() throws {
        let refused = try ProxyRig()
        try refused.send("GET http://origin.test/ HTTP/1.1\r\n\r\n")
        refused.failDial(EngineError(.connectionRefused, "refused"))
        XCTAssertEqual(try refused.client.output(), Self.errorPage(502, "Bad Gateway", "cannot reach origin.test:80: refused"))
        XCTAssertFalse(refused.client.isActive)
        let slow = try ProxyRig()
        try slow.send("CONNECT origin.test:443 HTTP/1.1\r\n\r\n")
        slow.failDial(EngineError(.timeout, "no answer"))
        XCTAssertEqual(try slow.client.output(), Self.errorPage(504, "Gateway Timeout", "cannot reach origin.test:443: no answer"))
    }

    func testConnectBecomesATunnelCarryingEarlyBytes() throws {
        let rig = try ProxyRig()
        try rig.send("CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\nEARLY")
        XCTAssertEqual(rig.dials, [HostPort(host: "origin.test", port: 443)])
        let target = try rig.answerDial()
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 Connection established\r\n\r\n")
        XCTAssertEqual(try target.output(), "EARLY", "bytes sent before the answer reach the target at once")
        try rig.send("more")
        XCTAssertEqual(try target.output(), "more")
        try target.send("back")
        XCTAssertEqual(try rig.client.output(), "back")
        XCTAssertThrowsError(try rig.client.pipeline.syncOperations.context(handlerType: HTTPProxyServerHandler.self), "the proxy left the pipeline")
    }

    /// The client ended its side while the tunnel was being dialled: the tunnel is still set up,
    /// and the end is passed on to the target once it is.
    func testConnectEndedWhileDiallingPassesTheEndOn() throws {
        let rig = try ProxyRig()
        try rig.send("CONNECT origin.test:443 HTTP/1.1\r\n\r\n")
        rig.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(rig.client.isActive, "the CONNECT is still answered")
        let target = try rig.answerDial()
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 Connection established\r\n\r\n")
        XCTAssertFalse(target.isActive, "the end passed on (EmbeddedChannel cannot half-close, so it closes)")
    }

    func testHalfCloseAfterTheAnswerClosesBothConnections() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test/ HTTP/1.1\r\n\r\n")
        let origin = try rig.answerDial()
        try origin.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertTrue(rig.client.isActive)
        rig.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        rig.loop.run()
        XCTAssertFalse(rig.client.isActive)
        XCTAssertFalse(origin.isActive, "the origin connection kept for the client goes with it")
    }

    func testHalfCloseBeforeTheAnswerWaitsForIt() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test/ HTTP/1.1\r\n\r\n")
        let origin = try rig.answerDial()
        rig.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        rig.loop.run()
        XCTAssertTrue(rig.client.isActive, "the request is still being answered")
        try origin.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        rig.loop.run()
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertFalse(rig.client.isActive)
        XCTAssertFalse(origin.isActive)
    }

    func testOriginClosingMidResponseClosesTheClient() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test/ HTTP/1.1\r\n\r\n")
        let origin = try rig.answerDial()
        try origin.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        try origin.close().wait()
        rig.loop.run()
        XCTAssertFalse(rig.client.isActive, "a cut response must not look complete")
    }

    func testCloseDelimitedAnswerIsRechunkedAndTheNextRequestRedials() throws {
        let rig = try ProxyRig()
        try rig.send("GET http://origin.test/1 HTTP/1.1\r\n\r\n")
        let first = try rig.answerDial()
        try first.send("HTTP/1.0 200 OK\r\n\r\nold")
        first.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        rig.loop.run()
        XCTAssertEqual(try rig.client.output(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nold\r\n0\r\n\r\n")
        XCTAssertFalse(first.isActive)
        XCTAssertTrue(rig.client.isActive)
        try rig.send("GET http://origin.test/2 HTTP/1.1\r\n\r\n")
        XCTAssertEqual(rig.dials.count, 2)
        XCTAssertEqual(try rig.answerDial().output(), "GET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n")
    }

    static func errorPage(_ code: Int, _ reason: String, _ message: String, extra: String = "") -> String {
        let body = "\(code) \(reason): \(message)\n"
        return "HTTP/1.1 \(code) \(reason)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\(extra)\r\n\(body)"
    }
}

/// A client channel with the HTTP proxy's pipeline and a dialler the test answers.
final class ProxyRig {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let reads = ReadCounter()
    private(set) var dials: [HostPort] = []
    private var pending: [EventLoopPromise<Handshake>] = []

    init(auth: Authenticator = Authenticator([]), maxHeaderBytes: Int = 64 * 1024) throws {
        self.client = EmbeddedChannel(loop: loop)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits))
        let encoder = HTTPResponseEncoder()
        let context = HandlerContext(serviceName: "test", router: Router(), forwarder: nil, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let proxy = HTTPProxyServerHandler(auth: auth, context: context, decoder: decoder, encoder: encoder) { [unowned self] target, loop in
            self.dials.append(target)
            let promise = loop.makePromise(of: Handshake.self)
            self.pending.append(promise)
            return promise.futureResult
        }
        try client.pipeline.syncOperations.addHandler(reads)
        try client.pipeline.syncOperations.addHandlers([decoder, encoder, proxy])
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
    }

    /// Answers the oldest dial with a fresh origin connection (its handshake reader installed).
    func answerDial() throws -> EmbeddedChannel {
        let origin = EmbeddedChannel(loop: loop)
        let reader = HandshakeReader()
        try origin.pipeline.syncOperations.addHandler(reader)
        try origin.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        pending.removeFirst().succeed(Handshake(channel: origin, reader: reader))
        loop.run()
        return origin
    }

    func failDial(_ error: Error) {
        pending.removeFirst().fail(error)
        loop.run()
    }
}

extension EmbeddedChannel {
    /// Everything written out so far, as text.
    func output() throws -> String {
        var text = ""
        while let buffer = try readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    func send(_ text: String) throws {
        try writeInbound(ByteBuffer(string: text))
    }
}
