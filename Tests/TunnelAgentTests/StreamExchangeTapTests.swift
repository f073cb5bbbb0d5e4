import NIOCore
import Operations
import Shared
import XCTest

@testable import TunnelAgent

/// The agent's stream tap, driven by byte scripts: requests are what the relay sends down a
/// stream, answers what the service sends back; it must follow keep-alive, pipelined and chunked
/// exchanges, heads split across reads, and let go of anything that is not HTTP/1.
final class StreamExchangeTapTests: XCTestCase {
    func tap(bodyLimit: Int = 0) -> StreamExchangeTap {
        StreamExchangeTap(tunnel: "t", host: "relay-said.test", capture: .init(heads: true, bodyLimit: bodyLimit))
    }

    func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func testKeepAliveExchangesAreRecordedInOrder() {
        var t = tap(bodyLimit: 64)
        let start = NIODeadline.now()
        t.requestBytes(bytes("GET /a?x=1 HTTP/1.1\r\nHost: app.test\r\n\r\n"), now: start)
        var done = t.responseBytes(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"), now: start + .milliseconds(3))
        XCTAssertEqual(done.count, 1)
        XCTAssertEqual(done[0].method, "GET")
        XCTAssertEqual(done[0].host, "app.test")
        XCTAssertEqual(done[0].target, "/a?x=1")
        XCTAssertEqual(done[0].status, 200)
        XCTAssertEqual(done[0].responseBytes, 5)
        XCTAssertEqual(done[0].responseBody.map { String(buffer: $0) }, "hello")
        XCTAssertEqual(done[0].requestHeaders, [.init(name: "Host", value: "app.test")])
        XCTAssertEqual(done[0].responseHeaders.map(\.name), ["Content-Length", "X-A"])
        t.requestBytes(bytes("POST /b HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc"), now: start)
        done = t.responseBytes(bytes("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), now: start)
        XCTAssertEqual(done.map(\.status), [201])
        XCTAssertEqual(done[0].requestBytes, 3)
        XCTAssertEqual(done[0].requestBody.map { String(buffer: $0) }, "abc")
        XCTAssertTrue(t.observing)
    }

    func testPipelinedRequestsAreMatchedToTheirAnswers() {
        var t = tap()
        t.requestBytes(bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"), now: .now())
        let done = t.responseBytes(
            bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), now: .now())
        XCTAssertEqual(done.map(\.target), ["/1", "/2", "/3"])
        XCTAssertEqual(done.map(\.status), [200, 200, 404])
        XCTAssertEqual(done.map(\.responseBytes), [2, 0, 0], "a HEAD answer has no body, whatever its Content-Length says")
    }

    func testChunkedBodiesSplitAnywhere() {
        var t = tap(bodyLimit: 100)
        t.requestBytes(bytes("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r"), now: .now())
        t.requestBytes(bytes("\nabcd\r\n0\r\n\r\n"), now: .now())
        let answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
        var done: [HTTPExchange] = []
        // The answer one byte at a time.
        for byte in answer.utf8 { done += t.responseBytes(ByteBuffer(bytes: [byte]), now: .now()) }
        XCTAssertEqual(done.count, 1)
        XCTAssertEqual(done[0].status, 200)
        XCTAssertGreaterThan(done[0].requestBytes, 4, "chunk framing is counted with the body")
        XCTAssertTrue(t.observing)
    }

    func testAHeadSplitAcrossReads() {
        var t = tap()
        t.requestBytes(bytes("GE"), now: .now())
        t.requestBytes(bytes("T /split HTTP/1.1\r\nHo"), now: .now())
        t.requestBytes(bytes("st: s.test\r\n\r"), now: .now())
        t.requestBytes(bytes("\n"), now: .now())
        XCTAssertTrue(t.responseBytes(bytes("HTTP/1.1 200 OK\r\nContent-"), now: .now()).isEmpty)
        let done = t.responseBytes(bytes("Length: 0\r\n\r\n"), now: .now())
        XCTAssertEqual(done.map(\.target), ["/split"])
        XCTAssertEqual(done.first?.host, "s.test")
    }

    func testAnAnswerUntilCloseEndsWithTheStream() {
        var t = tap()
        t.requestBytes(bytes("GET / HTTP/1.0\r\n\r\n"), now: .now())
        XCTAssertTrue(t.responseBytes(bytes("HTTP/1.0 200 OK\r\n\r\nsome"), now: .now()).isEmpty)
        XCTAssertTrue(t.responseBytes(bytes(" more"), now: .now()).isEmpty)
        let done = t.responseEnded()
        XCTAssertEqual(done?.responseBytes, 9)
        XCTAssertEqual(done?.host, "relay-said.test", "no Host: the relay's word")
        XCTAssertEqual(done?.proto, "HTTP/1.0")
    }

    func testStreamsThatAreNotHTTPAreLeftAlone() {
        var tls = tap()
        tls.requestBytes(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), now: .now())
        XCTAssertFalse(tls.observing, "TLS passthrough")
        XCTAssertTrue(tls.responseBytes(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), now: .now()).isEmpty)

        var raw = tap()
        raw.requestBytes(bytes("SSH-2.0-OpenSSH_9.6\r\n"), now: .now())
        XCTAssertFalse(raw.observing, "raw TCP")

        var garbled = tap()
        garbled.requestBytes(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), now: .now())
        XCTAssertTrue(garbled.responseBytes(bytes("nonsense\r\n\r\n"), now: .now()).isEmpty)
        XCTAssertFalse(garbled.observing, "an answer that does not parse")

        var upgraded = tap()
        upgraded.requestBytes(bytes("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), now: .now())
        let done = upgraded.responseBytes(bytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\u{81}\u{05}hello"), now: .now())
        XCTAssertEqual(done.map(\.status), [101])
        XCTAssertFalse(upgraded.observing, "after 101 the bytes are not HTTP")
    }

    func testAnEarlyAnswerAndInterimAnswers() {
        var t = tap()
        t.requestBytes(bytes("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789"), now: .now())
        let early = t.responseBytes(bytes("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"), now: .now())
        XCTAssertEqual(early.map(\.status), [413])
        t.requestBytes(ByteBuffer(repeating: 0x61, count: 90), now: .now())
        t.requestBytes(bytes("GET /next HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"), now: .now())
        let next = t.responseBytes(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), now: .now())
        XCTAssertEqual(next.map(\.target), ["/next"])
        XCTAssertEqual(next.map(\.status), [204])
    }

    func testHeldBytesAreBounded() {
        var t = tap()
        t.requestBytes(bytes("GET / HTTP/1.1\r\nX: "), now: .now())
        for _ in 0..<5 { t.requestBytes(ByteBuffer(repeating: 0x61, count: HTTPFraming.maxHead / 4), now: .now()) }
        XCTAssertFalse(t.observing, "a head beyond the limit stops the tap instead of growing")
    }
}
