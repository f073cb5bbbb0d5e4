import NIOCore
import XCTest

@testable import TunnelServer

/// The HTTP/1 ingress obeying the visitor gate, with bytes alone: a refused request is answered
/// here and never opens a stream; a request whose password must be hashed waits (nothing after it
/// is read or sent) until the answer, then goes on or is refused.
final class HTTPIngressPolicyTests: XCTestCase {
    typealias S = HTTPIngressScript

    static let unauthorized = Refusal(status: 401, reason: "Unauthorized", message: "no", headers: [.init(name: "WWW-Authenticate", value: "Basic realm=\"x\"")])

    static func check(_ label: String) -> CredentialCheck {
        CredentialCheck(run: { $0.makeSucceededFuture(true) }, label: label, rewrite: .none, refusal: unauthorized)
    }

    func testARefusedRequestIsAnsweredAndOpensNothing() {
        var s = S()
        s.machine.admit = { head, _ in head.field("authorization") == nil ? .refuse(Self.unauthorized) : .pass(.none) }
        _ = s.start()
        let out = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        XCTAssertEqual(out.first, "page:HTTP/1.1 401 Unauthorized")
        XCTAssertFalse(out.contains { $0.hasPrefix("open(") }, "\(out)")
    }

    func testARefusalAfterAnsweredRequestsWaitsForThem() {
        var s = S()
        var first = true
        s.machine.admit = { _, _ in
            defer { first = false }
            return first ? .pass(.none) : .refuse(Self.unauthorized)
        }
        _ = s.start()
        XCTAssertEqual(s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
        _ = s.opened()
        // The first answer is delivered, then the refusal of the second.
        let out = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        XCTAssertEqual(out.prefix(2), ["client:HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "client:x"])
        XCTAssertTrue(out.contains("page:HTTP/1.1 401 Unauthorized"), "\(out)")
    }

    func testARequestWaitsForItsPasswordToBeChecked() {
        var s = S()
        s.machine.admit = { _, _ in .verify(Self.check("basic:alice")) }
        _ = s.start()
        XCTAssertEqual(s.client("POST /u HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc"), ["verify(basic:alice)"])
        XCTAssertEqual(s.read(), [], "nothing more is read while the password is checked")
        XCTAssertEqual(S.render(s.machine.credentialsChecked(true, now: s.now)), ["open(ta,a.test)"])
        let opened = s.opened()
        XCTAssertTrue(opened.contains { $0.hasPrefix("up:POST /u HTTP/1.1\r\n") }, "\(opened)")
        XCTAssertTrue(opened.contains("up:abc"), "the body held meanwhile follows its head: \(opened)")
    }

    func testAWrongPasswordIsRefusedAfterTheCheck() {
        var s = S()
        s.machine.admit = { _, _ in .verify(Self.check("basic:mallory")) }
        _ = s.start()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        let out = S.render(s.machine.credentialsChecked(false, now: s.now))
        XCTAssertEqual(out, ["page:HTTP/1.1 401 Unauthorized"])
        XCTAssertTrue(String(buffer: Self.unauthorized.http1).contains("WWW-Authenticate: Basic realm=\"x\"\r\n"))
    }

    func testACheckAnsweredAfterTheClientLeftDoesNothing() {
        var s = S()
        s.machine.admit = { _, _ in .verify(Self.check("basic:alice")) }
        _ = s.start()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.clientGone()
        XCTAssertEqual(S.render(s.machine.credentialsChecked(true, now: s.now)), [])
    }

    func testAResponseIsEditedForItsOwnRequest() throws {
        var s = S()
        var rewrite = RequestRewrite()
        rewrite.response = try HeaderEdits(.init(set: ["X-Frame-Options": "DENY"], remove: ["Server"]), path: "p")
        s.machine.admit = { _, _ in .pass(rewrite) }
        _ = s.start()
        _ = s.client("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.origin("HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Length: 0\r\n\r\n"), [
            "client:HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Frame-Options: DENY\r\n\r\n",
        ])
    }
}
