import NIOCore
import NIOHTTP1
import XCTest

@testable import Shared

/// `HTTPProxyServerStateMachine` across whole connections: pipelining, keep-alive, the client's
/// half-close, errors met in the middle, and the message rewrites.
final class HTTPProxyServerStateMachineScenarioTests: XCTestCase {
    typealias M = HTTPProxyServerStateMachine

    let origin = HostPort(host: "origin.test", port: 80)
    let ok = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])

    func get(_ path: String = "/a", version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:]) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .GET, uri: "http://origin.test\(path)", headers: headers)
    }

    func forwarded(_ path: String = "/a", version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .GET, uri: path, headers: ["Host": "origin.test"])
    }

    func testPipelinedRequestsWaitUnreadOneExchangeAtATime() {
        var m = M()
        XCTAssertEqual(m.requestHead(get("/1"), authorized: true), [.dial(origin)])
        XCTAssertEqual(m.requestEnd(nil), [])
        XCTAssertEqual(m.requestHead(get("/2"), authorized: true), [])
        XCTAssertEqual(m.requestEnd(nil), [])
        XCTAssertEqual(m.queue.count, 3)
        XCTAssertFalse(m.readRequested())
        XCTAssertEqual(m.upstreamConnected(writable: true), [.adoptConnection, .forward(.head(forwarded("/1"))), .forward(.end(nil))])
        XCTAssertEqual(m.state, .awaitingResponse(M.Exchange(keepAlive: true)))
        XCTAssertEqual(m.queue.count, 2, "the second request waits for the first's answer")
        XCTAssertFalse(m.releaseHeldRead())
        XCTAssertEqual(m.responseHead(ok), [.write(.head(ok))])
        // The first answer ends: the second goes on the same origin connection, still one at a time.
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .forward(.head(forwarded("/2"))), .forward(.end(nil))])
        XCTAssertEqual(m.queue.count, 0)
        XCTAssertFalse(m.releaseHeldRead(), "still answering the second")
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil))])
        XCTAssertEqual(m.state, .idle)
        XCTAssertTrue(m.releaseHeldRead(), "now the client may send more")
    }

    func testHTTP10ClientGetsCloseAndItsConnectionEnds() {
        var m = M()
        _ = m.requestHead(get(version: .http1_0), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        var expected = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])
        expected.headers.add(name: "Connection", value: "close")
        XCTAssertEqual(m.responseHead(ok), [.write(.head(expected))])
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .closeUpstream, .closeAfterResponses])
        XCTAssertEqual(m.state, .closing(draining: false))
    }

    /// An origin that may not be reused (HTTP/1.0, or `Connection: close`) is replaced for the next request.
    func testOriginThatClosesIsRedialledForTheNextRequest() {
        var m = M()
        _ = m.requestHead(get("/1"), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        _ = m.responseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Connection": "close"]))
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .closeUpstream])
        XCTAssertNil(m.upstream)
        XCTAssertEqual(m.requestHead(get("/2"), authorized: true), [.dial(origin)])
    }

    func testHalfCloseAnswersWhatWasAskedThenCloses() {
        var m = M()
        _ = m.requestHead(get("/1"), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        _ = m.requestHead(get("/2"), authorized: true)
        _ = m.requestEnd(nil)
        XCTAssertEqual(m.clientInputClosed(), [], "two requests are still to be answered")
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .forward(.head(forwarded("/2"))), .forward(.end(nil))])
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .closeUpstream, .closeAfterResponses])
        XCTAssertEqual(m.state, .closing(draining: false))
    }

    /// A request the client had not finished sending when it ended its side can no longer be
    /// finished, so it is not waited for.
    func testHalfCloseDoesNotWaitForAnUnfinishedRequest() {
        var m = M()
        _ = m.requestHead(get("/1"), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        _ = m.requestHead(get("/2"), authorized: true)
        XCTAssertEqual(m.clientInputClosed(), [])
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .forward(.head(forwarded("/2"))), .closeUpstream, .closeAfterResponses])
    }

    func testHalfCloseWhileDiallingWaitsForTheAnswer() {
        var m = M()
        _ = m.requestHead(get(), authorized: true)
        _ = m.requestEnd(nil)
        XCTAssertEqual(m.clientInputClosed(), [])
        XCTAssertEqual(m.upstreamConnected(writable: true), [.adoptConnection, .forward(.head(forwarded())), .forward(.end(nil))])
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .closeUpstream, .closeAfterResponses])
    }

    /// A malformed pipelined request is answered in its turn, after the response before it.
    func testMalformedPipelinedRequestIsAnsweredInItsTurn() {
        var m = M()
        _ = m.requestHead(get(), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        XCTAssertEqual(m.requestMalformed(.invalidMethod), [])
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .respond(.malformed(.invalidMethod))])
        XCTAssertEqual(m.state, .closing(draining: false))
    }

    /// A queued request that fails authentication: the rest of it is read (and dropped) only if
    /// it has not all arrived yet.
    func testRejectedQueuedRequestDrainsOnlyWhatIsStillComing() {
        for sentWhole in [false, true] {
            var m = M()
            _ = m.requestHead(get(), authorized: true)
            _ = m.upstreamConnected(writable: true)
            _ = m.requestEnd(nil)
            _ = m.requestHead(get("/2"), authorized: false)
            _ = m.requestBody(ByteBuffer(string: "x"))
            if sentWhole { _ = m.requestEnd(nil) }
            _ = m.responseHead(ok)
            XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil)), .respond(.authenticationRequired)])
            XCTAssertEqual(m.state, .closing(draining: !sentWhole))
            XCTAssertEqual(m.queue.count, 0)
            XCTAssertEqual(m.readRequested(), !sentWhole)
        }
    }

    /// The origin answered before the request ended; once it has, the next request reuses it.
    func testEarlyAnswerThenTheRestOfTheRequestThenTheNext() {
        var m = M()
        _ = m.requestHead(get(), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.responseHead(ok)
        XCTAssertEqual(m.responseEnd(nil), [.write(.end(nil))])
        XCTAssertTrue(m.readRequested(), "the rest of the request is read")
        XCTAssertEqual(m.requestBody(ByteBuffer(string: "tail")), [.forward(.body(.byteBuffer(ByteBuffer(string: "tail"))))])
        XCTAssertEqual(m.requestEnd(nil), [.forward(.end(nil))])
        XCTAssertEqual(m.requestHead(get("/b"), authorized: true), [.forward(.head(forwarded("/b")))])
    }

    /// A held read goes when the origin connection that held it is dropped.
    func testDroppingAFullOriginConnectionReleasesAHeldRead() {
        var m = M()
        _ = m.requestHead(get(), authorized: true)
        _ = m.upstreamConnected(writable: true)
        _ = m.requestEnd(nil)
        _ = m.responseHead(ok)
        _ = m.responseEnd(nil)
        m.upstreamWritabilityChanged(writable: false)
        XCTAssertFalse(m.readRequested())
        XCTAssertEqual(m.upstreamClosed(), [])
        XCTAssertTrue(m.releaseHeldRead())
    }

    func testOriginRequestHeadRewrite() {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "http://u:p@example.com:8080/x?y=1")
        head.headers.add(name: "Proxy-Authorization", value: "Basic YTpi")
        head.headers.add(name: "Proxy-Connection", value: "keep-alive")
        head.headers.add(name: "Accept", value: "*/*")
        let (target, path) = try! XCTUnwrap(M.parseAbsolute(head.uri))
        XCTAssertEqual(target, HostPort(host: "example.com", port: 8080))
        XCTAssertEqual(path, "/x?y=1")
        let out = M.originRequestHead(head, target: target, path: path)
        XCTAssertEqual(out.uri, "/x?y=1")
        XCTAssertEqual(out.method, .POST)
        XCTAssertFalse(out.headers.contains(name: "Proxy-Authorization"))
        XCTAssertFalse(out.headers.contains(name: "Proxy-Connection"))
        XCTAssertEqual(out.headers["Host"], ["example.com:8080"])
        XCTAssertEqual(out.headers["Accept"], ["*/*"])
        // The client's own Host is kept; port 80 is left out of one the proxy adds.
        head.headers.add(name: "Host", value: "given")
        XCTAssertEqual(M.originRequestHead(head, target: target, path: path).headers["Host"], ["given"])
        XCTAssertEqual(M.originRequestHead(get(), target: origin, path: "/").headers["Host"], ["origin.test"])
        XCTAssertEqual(M.parseAbsolute("http://origin.test?q")?.1, "/?q")
        XCTAssertNil(M.parseAbsolute("https://origin.test/"))
    }

    func testClientResponseHeadRewrite() {
        let head = HTTPResponseHead(version: .http1_0, status: .notFound, headers: ["Connection": "keep-alive", "Keep-Alive": "timeout=5", "Proxy-Connection": "x", "X-Kept": "1"])
        let kept = M.clientResponseHead(head, keepAlive: true)
        XCTAssertEqual(kept.version, .http1_1)
        XCTAssertEqual(kept.status, .notFound)
        XCTAssertEqual(kept.headers, ["X-Kept": "1"])
        XCTAssertEqual(M.clientResponseHead(head, keepAlive: false).headers, ["X-Kept": "1", "Connection": "close"])
    }

    func testFailureAnswers() {
        let cases: [(M.Failure, UInt, String)] = [
            (.authenticationRequired, 407, "proxy authentication required"),
            (.connectTargetInvalid, 400, "CONNECT needs host:port"),
            (.notAbsoluteForm, 400, "this is a proxy: send absolute-form requests (http://host/path) or CONNECT"),
            (.unreachable(target: origin, reason: "refused", timedOut: false), 502, "cannot reach origin.test:80: refused"),
            (.unreachable(target: origin, reason: "slow", timedOut: true), 504, "cannot reach origin.test:80: slow"),
            (.malformed(.headerOverflow), 431, "request header fields larger than the limit"),
            (.malformed(.invalidMethod), 400, "malformed request: invalid HTTP method"),
        ]
        for (failure, code, message) in cases {
            XCTAssertEqual(failure.status.code, code, "\(failure)")
            XCTAssertEqual(failure.message, message)
        }
        XCTAssertEqual(M.Failure.authenticationRequired.extraHeaders.map { "\($0.0): \($0.1)" }, ["Proxy-Authenticate: Basic realm=\"proxy\""])
        XCTAssertTrue(M.Failure.notAbsoluteForm.extraHeaders.isEmpty)
    }
}
