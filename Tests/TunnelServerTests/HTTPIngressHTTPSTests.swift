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
        XCTAssertEqual(s.opened()[2], "up:GET / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n\r\n")
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
