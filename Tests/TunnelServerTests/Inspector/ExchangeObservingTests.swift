import NIOCore
import NIOHPACK
import Operations
import XCTest

@testable import TunnelServer

/// What the ingress state machines report of each request while observing: one
/// `exchangeFinished` per answered request, with its status and sizes (and heads and bodies up to
/// the limit when capturing), for HTTP/1 (pipelined and chunked too) and h2.
final class ExchangeObservingTests: XCTestCase {
    typealias S = HTTPIngressScript

    func observed(_ capture: HTTPExchange.Capture? = nil) -> S {
        var s = S()
        s.machine.observing = true
        s.machine.capture = capture
        return s
    }

    func testEachAnsweredRequestIsReportedOnceInOrder() {
        var s = observed()
        _ = s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello")
        _ = s.opened()
        let answers = s.origin("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
        XCTAssertEqual(answers.filter { $0.hasPrefix("exchange(") }, ["exchange(GET /1 404 up=0 down=3)", "exchange(POST /2 201 up=5 down=14)"])
    }

    func testAnInterimAnswerIsNotTheStatusAndAnUntilCloseAnswerEndsWithTheStream() {
        var s = observed()
        _ = s.client("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody").filter { $0.hasPrefix("exchange") }, [])
        XCTAssertEqual(s.originEnds().filter { $0.hasPrefix("exchange") }, ["exchange(GET /x 200 up=0 down=4)"])
    }

    func testCaptureKeepsHeadsAndBodiesUpToTheLimit() {
        var s = observed(.init(heads: true, bodyLimit: 4))
        _ = s.client("POST /p HTTP/1.1\r\nHost: a.test\r\nX-Trace: 7\r\nContent-Length: 6\r\n\r\nabcdef")
        _ = s.opened()
        let actions = s.machine.upstreamRead(s.nextStream, ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), now: s.now)
        guard case .exchangeFinished(let e)? = actions.last else { return XCTFail("\(actions)") }
        XCTAssertEqual(e.requestHeaders.first { $0.name == "X-Trace" }?.value, "7")
        XCTAssertEqual(e.requestBody, ByteBuffer(string: "abcd"))
        XCTAssertTrue(e.requestBodyTruncated)
        XCTAssertEqual(e.requestBytes, 6)
        XCTAssertEqual(e.responseBody, ByteBuffer(string: "ok"))
        XCTAssertFalse(e.responseBodyTruncated)
        XCTAssertEqual(e.responseHeaders.map(\.name), ["Content-Length"])
        XCTAssertEqual(e.tunnel, "ta")
    }

    func testNothingIsReportedWhenNotObserving() {
        var s = S()
        _ = s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertFalse(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").contains { $0.hasPrefix("exchange") })
    }

    func testAnH2ExchangeIsReportedWhenItsAnswerEnds() {
        var m = HTTP2StreamStateMachine(clientIP: "192.0.2.7") { _, _ in .init(tunnel: "t1", upstream: .http1) }
        m.observing = true
        m.capture = .init(heads: true, bodyLimit: 16)
        _ = m.clientPart(.head([":method": "POST", ":scheme": "https", ":authority": "app.test", ":path": "/h2?x", "x-a": "1"], end: false))
        _ = m.clientPart(.body(ByteBuffer(string: "abc"), end: true))
        _ = m.upstreamOpened()
        _ = m.upstreamPart(.head([":status": "200", "content-type": "text/plain"], end: false))
        let actions = m.upstreamPart(.body(ByteBuffer(string: "done"), end: true))
        guard case .exchangeFinished(let e)? = actions.last else { return XCTFail("\(actions)") }
        XCTAssertEqual(e.proto, "h2")
        XCTAssertEqual(e.method, "POST")
        XCTAssertEqual(e.target, "/h2?x")
        XCTAssertEqual(e.status, 200)
        XCTAssertEqual(e.requestBytes, 3)
        XCTAssertEqual(e.responseBytes, 4)
        XCTAssertEqual(e.requestHeaders, [.init(name: "x-a", value: "1")])
        XCTAssertEqual(e.responseHeaders, [.init(name: "content-type", value: "text/plain")])
    }
}
