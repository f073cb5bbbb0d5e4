import NIOCore
import XCTest

@testable import TunnelServer

/// Byte scripts for the HTTP ingress: requests and answers in, actions out. Routing, ordering,
/// pipelining and the streams' life (see `HTTPIngressStateMachineEndingsTests` for errors,
/// timers and half-closes).
final class HTTPIngressStateMachineTests: XCTestCase {
    typealias S = HTTPIngressScript

    func testARequestOpensAStreamOfItsTunnelAndTheAnswerComesBack() {
        var s = S()
        XCTAssertEqual(s.start(), ["timer(+75s)"])
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
        XCTAssertEqual(s.read(), [], "no read while the stream opens")
        XCTAssertEqual(s.opened(), ["adopt", "upPartnerWritable(true)", S.forwarded("GET / HTTP/1.1", host: "a.test"), "flushUp", "startReadingUp", "read"])
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), ["client:HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "client:hi"])
        XCTAssertEqual(s.read(), ["read"])
        // The next request for the same tunnel goes to the same stream at once.
        XCTAssertEqual(s.client("GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"), [S.forwarded("GET /2 HTTP/1.1", host: "a.test"), "flushUp"])
        XCTAssertEqual(s.machine.upstream?.id, 1)
    }

    func testTheClientsForwardedHeadersAreExtendedAndItsProtoReplaced() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n")
        XCTAssertEqual(s.opened()[2], "up:GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a.test\r\nForwarded: for=192.0.2.1;host=\"a.test\";proto=http\r\n\r\n")
    }

    func testPipelinedRequestsForOneTunnelShareTheStreamAndAnswersStayInOrder() {
        var s = S()
        XCTAssertEqual(s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
        XCTAssertEqual(s.opened(), [
            "adopt", "upPartnerWritable(true)", S.forwarded("GET /1 HTTP/1.1", host: "a.test"), "flushUp", "startReadingUp",
            S.forwarded("GET /2 HTTP/1.1", host: "a.test"), "flushUp",
        ])
        // Both answers in one read: each is framed and passed on.
        XCTAssertEqual(s.origin("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), [
            "client:HTTP/1.1 204 No Content\r\n\r\n", "client:HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "client:x",
        ])
    }

    /// A request for another tunnel waits until the answers before it are complete, then the
    /// connection moves to a stream of that tunnel.
    func testARequestForAnotherTunnelWaitsForEarlierAnswers() {
        var s = S()
        _ = s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client("GET /2 HTTP/1.1\r\nHost: b.test\r\n\r\n"), [], "held until /1 is answered")
        XCTAssertEqual(s.read(), [], "nothing more is read while a request waits")
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), [
            "client:HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "flushClient", "closeUp(1)", "open(tb,b.test)",
        ])
        XCTAssertEqual(s.opened(), ["adopt", "upPartnerWritable(true)", S.forwarded("GET /2 HTTP/1.1", host: "b.test"), "flushUp", "startReadingUp", "read"])
        XCTAssertEqual(s.origin("late bytes", stream: 1), [], "a stream let go of is never heard again")
        XCTAssertEqual(s.originGone(stream: 1), [])
    }

    func testARequestBodyIsPassedOnAsItArrives() {
        var s = S()
        _ = s.client("POST /u HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\n\r\nabc")
        XCTAssertEqual(s.opened(), [
            "adopt", "upPartnerWritable(true)", S.forwarded("POST /u HTTP/1.1", host: "a.test", extra: "Content-Length: 6\r\n"), "flushUp", "startReadingUp",
            "up:abc", "flushUp",
        ])
        XCTAssertEqual(s.client("defGET /n HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["up:def", S.forwarded("GET /n HTTP/1.1", host: "a.test"), "flushUp"])
    }

    func testAChunkedBodyIsFramedByItsSizeLines() {
        var s = S()
        _ = s.client("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client("3\r\nabc\r\n0\r\n\r\n"), ["up:3\r\nabc\r\n0\r\n\r\n", "flushUp"])
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), [S.forwarded("GET / HTTP/1.1", host: "a.test"), "flushUp"], "after the last chunk, a new head")
    }

    func testInterimAnswersPassThroughWithoutCompletingTheRequest() {
        var s = S()
        _ = s.client("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 100 Continue\r\n\r\n"), ["client:HTTP/1.1 100 Continue\r\n\r\n"])
        XCTAssertEqual(s.client("x"), ["up:x", "flushUp"])
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ["client:HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    }

    func testAnOriginThatSaysCloseGetsNoFurtherRequest() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), [
            "client:HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "flushClient", "closeUp(1)",
        ])
        XCTAssertEqual(s.client("GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"], "a new stream for the next request")
    }

    func testAClientThatSaysCloseIsNotReadFurtherAndClosedAfterItsAnswer() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.read(), [], "nothing after the last request is read")
        XCTAssertEqual(s.client("GET /more HTTP/1.1\r\nHost: a.test\r\n\r\n"), [], "and what comes anyway is dropped")
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ["client:HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "finish", "closeUp(1)"])
        XCTAssertTrue(s.machine.closing)
    }

    func testAWebSocketUpgradeTurnsTheConnectionRawBothWays() {
        var s = S()
        _ = s.client("GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client("frame-before-101"), [], "nothing after an upgrade request is parsed before its answer")
        XCTAssertEqual(s.origin("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nserver-frame"), [
            "client:HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "up:frame-before-101", "flushUp", "client:server-frame",
        ])
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\n\r\n"), ["up:GET / HTTP/1.1\r\n\r\n", "flushUp"], "raw: not parsed")
        XCTAssertEqual(s.clientEnds(), ["closeUpOutput"], "the client's half-close reaches the origin")
        XCTAssertEqual(s.originEnds(), ["flushClient", "finish", "closeUp(1)"], "both sides ended: close")
    }

    func testAnOriginsHalfCloseOfARawConnectionReachesTheClient() {
        var s = S()
        _ = s.client("CONNECT db:5432 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 200 Connection Established\r\n\r\n"), ["client:HTTP/1.1 200 Connection Established\r\n\r\n"])
        XCTAssertEqual(s.originEnds(), ["flushClient", "closeClientOutput"])
        XCTAssertEqual(s.client("still talking"), ["up:still talking", "flushUp"])
    }

    func testADeclinedUpgradeKeepsTheConnectionHTTP() {
        var s = S()
        _ = s.client("GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client("GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n"), [])
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), [
            "client:HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", S.forwarded("GET /next HTTP/1.1", host: "a.test"), "flushUp",
        ])
    }

    func testReadsArePacedByTheStreamAndByPipelinedAnswers() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.originWritable(false), [])
        XCTAssertEqual(s.read(), [], "the stream is full: the client waits")
        XCTAssertEqual(s.originWritable(true), ["read"])
        XCTAssertEqual(s.originWritable(false, stream: 9), [], "another stream's state does not count")
        var many = ""
        for i in 1..<HTTPIngressStateMachine.maxPipelined { many += "GET /\(i) HTTP/1.1\r\nHost: a.test\r\n\r\n" }
        _ = s.client(many)
        XCTAssertEqual(s.read(), [], "32 answers outstanding: not read until one completes")
        XCTAssertEqual(s.origin("HTTP/1.1 204 No Content\r\n\r\n"), ["client:HTTP/1.1 204 No Content\r\n\r\n", "read"])
    }

    func testTheClientsWritabilityPacesTheStream() {
        var s = S()
        XCTAssertEqual(s.clientWritable(false), [], "no stream yet")
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertEqual(s.opened().prefix(2), ["adopt", "upPartnerWritable(false)"])
        XCTAssertEqual(s.clientWritable(true), ["upPartnerWritable(true)"])
    }
}
