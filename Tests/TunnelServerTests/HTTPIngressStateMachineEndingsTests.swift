import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// Byte scripts for how an HTTP ingress connection ends: error pages, timers, half-closes, and
/// streams that fail or end early.
final class HTTPIngressStateMachineEndingsTests: XCTestCase {
    typealias S = HTTPIngressScript

    static let post = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nabc"
    static let chunked = "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    // MARK: answered here

    func testRequestsNoTunnelServesAreAnswered404() {
        var s = S()
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n"), ["page:HTTP/1.1 404 Not Found"])
        XCTAssertTrue(s.machine.closing)
        XCTAssertEqual(s.read(), [])
        var old = S()
        XCTAssertEqual(old.client("GET / HTTP/1.0\r\n\r\n"), ["page:HTTP/1.1 404 Not Found"], "HTTP/1.0 without Host is valid, only unroutable")
    }

    func testMalformedAndOversizedHeadsAreRefused() {
        var s = S()
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), ["page:HTTP/1.1 400 Bad Request"], "HTTP/1.1 needs Host")
        var big = S()
        XCTAssertEqual(big.client("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: HTTPFraming.maxHead + 1)), ["page:HTTP/1.1 431 Request Header Fields Too Large"])
    }

    func testAnOfflineOrUnreachableTunnelIsAnsweredByTheRelay() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertEqual(s.unavailable(), ["page:HTTP/1.1 503 Service Unavailable"])
        var t = S()
        _ = t.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertEqual(t.openFailed(), ["page:HTTP/1.1 502 Bad Gateway"])
        XCTAssertEqual(t.openFailed(), [], "reported once")
    }

    func testARefusalBehindAnswersUnderWayWaitsForThem() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client("NOT-HTTP\r\n\r\n"), ["flushUp"], "the 400 waits for the answer before it")
        XCTAssertEqual(s.read(), [])
        XCTAssertEqual(s.origin(Self.ok), ["client:" + Self.ok, "page:HTTP/1.1 400 Bad Request", "closeUp(1)"])
    }

    func testAStreamThatOpensAfterTheClientLeftIsClosed() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertEqual(s.clientGone(), [])
        XCTAssertEqual(s.opened(), ["discard"])
        XCTAssertEqual(s.failure("late"), [], "closing already")
    }

    // MARK: timers

    func testAnIdleConnectionIsClosedAfterTheIdleTimeout() {
        var s = S()
        XCTAssertEqual(s.start(), ["timer(+75s)"])
        s.wait(.seconds(75))
        XCTAssertEqual(s.timer(), ["finish"])
    }

    func testAHeadMustBeCompleteWithinTheHeadTimeoutOfItsFirstByte() {
        var s = S()
        _ = s.start()
        s.wait(.seconds(60))
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nHo"), ["timer(+70s)"], "the head's deadline comes before the idle one")
        s.wait(.seconds(5))
        XCTAssertEqual(s.client("st: a"), [], "more bytes do not move the head's deadline")
        s.wait(.seconds(5))
        XCTAssertEqual(s.timer(), ["page:HTTP/1.1 408 Request Timeout"])
    }

    func testATimerDueWhileARequestIsUnderWayIsPutOff() {
        var s = S()
        _ = s.start()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        s.wait(.seconds(75))
        XCTAssertEqual(s.timer(), ["timer(+85s)"])
        _ = s.opened()
        _ = s.origin(Self.ok)
        s.wait(.seconds(10))
        XCTAssertEqual(s.timer(), ["timer(+150s)"], "idle counts from the last answer")
    }

    func testARequestBodyThatStopsArrivingIsCutOff() {
        var s = S()
        _ = s.client(Self.post)
        _ = s.opened()
        XCTAssertEqual(s.read(), ["read"])
        s.wait(.seconds(75))
        XCTAssertEqual(s.timer(), ["close", "closeUp(1)"])
    }

    func testAClientThatStopsReadingIsCutOff() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        _ = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        XCTAssertEqual(s.clientWritable(false), ["upPartnerWritable(false)"])
        s.wait(.seconds(75))
        XCTAssertEqual(s.timer(), ["close", "closeUp(1)"])
    }

    // MARK: the client's half-close

    func testAClientEndingInsideAHeadIsClosedAtOnce() {
        var s = S()
        _ = s.client("GET / HT")
        XCTAssertEqual(s.clientEnds(), ["finish"])
    }

    func testAClientEndingInsideABodyIsClosed() {
        var s = S()
        _ = s.client(Self.post)
        _ = s.opened()
        XCTAssertEqual(s.clientEnds(), ["close", "closeUp(1)"])
    }

    func testAClientEndingAfterItsRequestGetsItsAnswerFirst() {
        var s = S()
        XCTAssertEqual(s.clientEnds(), ["finish"], "idle: closed at once")
        var t = S()
        _ = t.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = t.opened()
        XCTAssertEqual(t.clientEnds(), [], "the origin is not told early")
        XCTAssertEqual(t.origin(Self.ok), ["client:" + Self.ok, "finish", "closeUp(1)"])
    }

    // MARK: the stream ends

    func testAnOriginClosingWithoutAnsweringGets502() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.originGone(), ["flushClient", "closeUp(1)", "page:HTTP/1.1 502 Bad Gateway"])
    }

    func testAnOriginClosingInsideAnAnswerClosesTheClient() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        _ = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertEqual(s.originGone(), ["flushClient", "closeUp(1)", "close"])
    }

    func testAnAnswerWithoutLengthEndsWithItsStream() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\n\r\nbody"), ["client:HTTP/1.1 200 OK\r\n\r\n", "client:body"])
        XCTAssertEqual(s.originEnds(), ["flushClient", "closeUp(1)", "finish"])
    }

    func testAnIdleStreamEndingLeavesTheConnectionOpen() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        _ = s.origin(Self.ok)
        XCTAssertEqual(s.originGone(), ["flushClient", "closeUp(1)"])
        XCTAssertFalse(s.machine.closing)
        XCTAssertEqual(s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
    }

    func testAStreamEndingInsideARequestBodyClosesTheClient() {
        var s = S()
        _ = s.client(Self.post)
        _ = s.opened()
        XCTAssertEqual(s.originGone(), ["flushClient", "closeUp(1)", "close"])
    }

    // MARK: bad bytes inside a body, from the origin

    func testAMalformedChunkResetsTheStreamAndAnswers400() {
        var s = S()
        _ = s.client(Self.chunked)
        _ = s.opened()
        XCTAssertEqual(s.client("zz\r\n"), ["closeUp(1)", "page:HTTP/1.1 400 Bad Request"])
    }

    func testAMalformedChunkAfterTheAnswerStartedClosesTheClient() {
        var s = S()
        _ = s.client(Self.chunked)
        _ = s.opened()
        _ = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
        XCTAssertEqual(s.client("zz\r\n"), ["closeUp(1)", "flushClient", "close"])
    }

    func testOriginBytesNobodyAskedForCloseTheConnection() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        _ = s.origin(Self.ok)
        XCTAssertEqual(s.origin(Self.ok), ["flushClient", "close", "closeUp(1)"])
    }

    func testAnUnreadableOrUnaskedAnswerClosesTheConnection() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("garbage\r\n\r\n"), ["flushClient", "close", "closeUp(1)"])
        var t = S()
        _ = t.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = t.opened()
        XCTAssertEqual(t.origin("HTTP/1.1 101 Switching Protocols\r\n\r\n"), ["client:HTTP/1.1 101 Switching Protocols\r\n\r\n", "close", "closeUp(1)"])
    }

    // MARK: the handler goes

    func testTheStreamIsLetGoOfWhenTheClientOrTheHandlerGoes() {
        var s = S()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.clientGone(), ["closeUp(1)"])
        XCTAssertEqual(s.origin(Self.ok), [], "nothing is delivered after")
        var t = S()
        _ = t.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = t.opened()
        XCTAssertEqual(t.removed(), ["closeUp(1)"])
        XCTAssertEqual(t.removed(), [])
    }
}
