import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// The HTTP ingress behind the relay's TLS: `X-Forwarded-Proto: https`, and HSTS added to final
/// answers unless the origin sent its own.
final class HTTPIngressHTTPSTests: XCTestCase {
    typealias S = HTTPIngressScript

    func testProtoIsHTTPSAndHSTSIsAddedOnce() {
        var s = S()
        s.machine.scheme = "https"
        s.machine.responseHeaders = [.init(name: "Strict-Transport-Security", value: "max-age=600")]
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(s.opened()[2], "up:GET / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a.test\r\nForwarded: for=192.0.2.1;host=\"a.test\";proto=https\r\n\r\n")
        XCTAssertEqual(s.origin("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), [
            "client:HTTP/1.1 100 Continue\r\n\r\n",
            "client:HTTP/1.1 200 OK\r\nContent-Length: 2\r\nStrict-Transport-Security: max-age=600\r\n\r\n", "client:hi",
        ])
        _ = s.read()
        XCTAssertEqual(s.client("GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n").count, 2)
        // The origin's own policy wins (any spelling of the name).
        XCTAssertEqual(s.origin("HTTP/1.1 204 No Content\r\nstrict-transport-security: max-age=1\r\n\r\n"), [
            "client:HTTP/1.1 204 No Content\r\nstrict-transport-security: max-age=1\r\n\r\n",
        ])
    }
}

/// What the plain-HTTP side answers itself: the relay's own ACME tokens, and the redirect.
final class ReservedRequestsTests: XCTestCase {
    typealias S = HTTPIngressScript

    func reserved(redirect: Set<String> = [], httpsPort: Int? = 443) -> (ReservedRequests, ACMEHTTPTokens) {
        let tokens = ACMEHTTPTokens()
        return (ReservedRequests(tokens: tokens, redirects: { redirect.contains($0.split(separator: ":")[0].lowercased()) }, httpsPort: httpsPort), tokens)
    }

    func testTheRelaysTokenIsAnsweredAndOthersGoToTheTunnel() {
        var s = S()
        let (r, tokens) = reserved(redirect: ["a.test"])
        tokens.set("tok.keyauth", for: "tok")
        s.machine.reserved = { r.answer($0) }
        XCTAssertEqual(s.client("GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["page:HTTP/1.1 200 OK"])
        XCTAssertEqual(r.answer(HTTPFraming.parseHeadForTest("GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: a.test\r\n\r\n")),
                       .respond(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 11\r\nConnection: close\r\n\r\ntok.keyauth")))
        // A token the relay does not hold is the tunnel's (its own HTTP-01), never redirected.
        var t = S()
        t.machine.reserved = { r.answer($0) }
        XCTAssertEqual(t.client("GET /.well-known/acme-challenge/other HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
    }

    func testRedirectKeepsPathAndQueryAndWaitsForEarlierAnswers() {
        let (r, _) = reserved(redirect: ["b.test"], httpsPort: 8443)
        XCTAssertNil(r.answer(HTTPFraming.parseHeadForTest("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n")))
        var s = S()
        s.machine.reserved = { r.answer($0) }
        _ = s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        // Pipelined behind an answer still owed: the redirect waits for it.
        XCTAssertEqual(s.client("POST /p?q=1 HTTP/1.1\r\nHost: B.test:80\r\nContent-Length: 0\r\n\r\n"), ["flushUp"])
        let answer = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(Array(answer.suffix(2)), ["page:HTTP/1.1 308 Permanent Redirect", "closeUp(1)"], "\(answer)")
        XCTAssertEqual(answer.first, "client:HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "the earlier answer first")
        XCTAssertEqual(r.answer(HTTPFraming.parseHeadForTest("POST /p?q=1 HTTP/1.1\r\nHost: B.test:80\r\nContent-Length: 0\r\n\r\n")),
                       .respond(ByteBuffer(string: "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://b.test:8443/p?q=1\r\nContent-Type: text/plain\r\nContent-Length: 35\r\nConnection: close\r\n\r\nMoved to https://b.test:8443/p?q=1\n")))
    }
}

extension HTTPFraming {
    static func parseHeadForTest(_ text: String) -> Head {
        try! parseHead(ByteBuffer(string: text), isRequest: true)!
    }
}
