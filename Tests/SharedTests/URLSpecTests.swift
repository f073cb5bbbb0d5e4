import XCTest

@testable import Shared

final class URLSpecTests: XCTestCase {
    func testServiceForms() throws {
        var s = try URLSpec.service("http://:8080", index: 0, chain: nil)
        XCTAssertEqual(s.handler.type, "http")
        XCTAssertEqual(s.listener.type, "tcp")
        XCTAssertEqual(s.addr, ":8080")

        s = try URLSpec.service("http://user:p%40ss@:8080", index: 0, chain: nil)
        XCTAssertEqual(s.handler.auth, Credentials(username: "user", password: "p@ss"))

        s = try URLSpec.service(":8080", index: 0, chain: "c")
        XCTAssertEqual(s.handler.type, "auto")
        XCTAssertEqual(s.handler.chain, "c")

        s = try URLSpec.service("tcp://:8080/127.0.0.1:80,127.0.0.1:81", index: 0, chain: nil)
        XCTAssertEqual(s.handler.type, "tcp")
        XCTAssertEqual(s.forwarder?.nodes.map(\.addr), ["127.0.0.1:80", "127.0.0.1:81"])

        s = try URLSpec.service("udp://:10053/127.0.0.1:53?ttl=30s", index: 0, chain: nil)
        XCTAssertEqual(s.listener.type, "udp")
        XCTAssertEqual(s.handler.metadata?["ttl"], "30s")

        s = try URLSpec.service("socks5+tls://:1080", index: 0, chain: nil)
        XCTAssertEqual(s.handler.type, "socks5")
        XCTAssertEqual(s.listener.type, "tls")

        s = try URLSpec.service("tls://:443", index: 0, chain: nil)
        XCTAssertEqual(s.handler.type, "auto")
        XCTAssertEqual(s.listener.type, "tls")
    }

    /// `key=` is an empty value (so `tunnel.id=` is caught as missing), `key` alone a flag.
    func testEmptyQueryValueIsNotAFlag() throws {
        let c = try URLSpec.config(listen: [], forward: ["tunnel+tls://relay:8443?tunnel.id=&secure"])
        let meta = c.chains?.first?.hops.first?.nodes.first?.connector?.metadata
        XCTAssertEqual(meta?["tunnel.id"], "")
        XCTAssertEqual(meta?["secure"], "true")
    }

    func testNodeForms() throws {
        var h = try URLSpec.hop("http://192.168.1.1:8080", index: 0)
        XCTAssertEqual(h.nodes[0].connector?.type, "http")
        XCTAssertEqual(h.nodes[0].dialer?.type, "tcp")

        h = try URLSpec.hop("socks5+tls://u:p@relay:1080?secure=true&serverName=x", index: 1)
        XCTAssertEqual(h.name, "hop-1")
        XCTAssertEqual(h.nodes[0].connector?.type, "socks5")
        XCTAssertEqual(h.nodes[0].connector?.auth, Credentials(username: "u", password: "p"))
        XCTAssertEqual(h.nodes[0].dialer?.type, "tls")
        XCTAssertEqual(h.nodes[0].dialer?.tls?.secure, true)
        XCTAssertEqual(h.nodes[0].dialer?.tls?.serverName, "x")

        h = try URLSpec.hop("tls://relay:443", index: 0)
        XCTAssertEqual(h.nodes[0].connector?.type, "http")
        XCTAssertEqual(h.nodes[0].dialer?.type, "tls")

        // A client certificate for a node that requires one (mutual TLS).
        h = try URLSpec.hop("tunnel+tls://relay:8443?tunnel.id=x&certFile=/a.pem&keyFile=/a.key", index: 0)
        XCTAssertEqual(h.nodes[0].dialer?.tls?.certFile, "/a.pem")
        XCTAssertEqual(h.nodes[0].dialer?.tls?.keyFile, "/a.key")
    }

    /// A tls dialer with half a client certificate is refused, not silently anonymous.
    func testTLSDialerNeedsBothCertAndKey() {
        XCTAssertThrowsError(try TLSDialer(options: TLSOptions(certFile: "/nonexistent.pem"))) { error in
            XCTAssertTrue("\(error)".contains("both certFile and keyFile"), "\(error)")
        }
    }

    func testBadURLsNameTheFlag() {
        XCTAssertThrowsError(try URLSpec.service("http://:99999", index: 3, chain: nil)) { error in
            XCTAssertTrue("\(error)".hasPrefix("-L[3]"), "\(error)")
        }
        XCTAssertThrowsError(try URLSpec.hop("http://:8080", index: 0)) { error in
            XCTAssertTrue("\(error)".contains("needs a host"), "\(error)")
        }
    }

    func testHostPortParsing() throws {
        XCTAssertEqual(try HostPort(parsing: "[::1]:80"), HostPort(host: "::1", port: 80))
        XCTAssertEqual(try HostPort(parsing: ":80"), HostPort(host: "", port: 80))
        XCTAssertEqual(try HostPort(parsing: "8080"), HostPort(host: "", port: 8080))
        XCTAssertThrowsError(try HostPort(parsing: "::1:80"))
        XCTAssertThrowsError(try HostPort(parsing: "host"))
        XCTAssertEqual(HostPort(host: "::1", port: 80).description, "[::1]:80")
    }

    func testGoDurations() {
        XCTAssertEqual(GoDuration.parse("10s"), .seconds(10))
        XCTAssertEqual(GoDuration.parse("1m30s"), .seconds(90))
        XCTAssertEqual(GoDuration.parse("500ms"), .milliseconds(500))
        XCTAssertEqual(GoDuration.parse("2"), .seconds(2))
        XCTAssertNil(GoDuration.parse("ten"))
        XCTAssertNil(GoDuration.parse("5x"))
    }
}
