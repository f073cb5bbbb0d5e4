import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// CIDR parsing and matching, IPv4 and IPv6, including IPv4-mapped addresses and Unix sockets.
final class IPRangeTests: XCTestCase {
    func range(_ text: String) throws -> IPRange { try IPRange(parsing: text, path: "test") }
    func v4(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 1234) }

    func testIPv4CIDR() throws {
        let r = try range("10.1.0.0/16")
        XCTAssertTrue(r.contains(try v4("10.1.0.0")))
        XCTAssertTrue(r.contains(try v4("10.1.255.255")))
        XCTAssertFalse(r.contains(try v4("10.2.0.0")))
        XCTAssertFalse(r.contains(try v4("10.0.255.255")))
        XCTAssertEqual(r.prefixLength, 16)
        XCTAssertTrue(r.isIPv4)
        XCTAssertEqual(r.description, "10.1.0.0/16")
    }

    func testBareAddressIsHostRoute() throws {
        let r4 = try range("192.0.2.7")
        XCTAssertEqual(r4.prefixLength, 32)
        XCTAssertTrue(r4.contains(ip: "192.0.2.7"))
        XCTAssertFalse(r4.contains(ip: "192.0.2.8"))
        let r6 = try range("2001:db8::1")
        XCTAssertEqual(r6.prefixLength, 128)
        XCTAssertTrue(r6.contains(ip: "2001:db8::1"))
        XCTAssertFalse(r6.contains(ip: "2001:db8::2"))
    }

    func testPrefixEdges() throws {
        let all4 = try range("0.0.0.0/0")
        XCTAssertTrue(all4.contains(ip: "255.255.255.255"))
        XCTAssertTrue(all4.contains(ip: "1.2.3.4"))
        // IPv4's /0 is every IPv4 address, not every IPv6 address.
        XCTAssertFalse(all4.contains(ip: "2001:db8::1"))
        let all6 = try range("::/0")
        XCTAssertTrue(all6.contains(ip: "2001:db8::1"))
        XCTAssertTrue(all6.contains(ip: "1.2.3.4"))
        let odd = try range("192.0.2.128/25")
        XCTAssertTrue(odd.contains(ip: "192.0.2.200"))
        XCTAssertFalse(odd.contains(ip: "192.0.2.127"))
        // A prefix that crosses the 64-bit halves.
        let mid = try range("2001:db8:0:0:8000::/65")
        XCTAssertTrue(mid.contains(ip: "2001:db8::8000:0:0:1"))
        XCTAssertFalse(mid.contains(ip: "2001:db8::7fff:0:0:1"))
        let wide = try range("2001:db8::/32")
        XCTAssertTrue(wide.contains(ip: "2001:db8:ffff::1"))
        XCTAssertFalse(wide.contains(ip: "2001:db9::1"))
        XCTAssertEqual(wide.description, "2001:db8::/32")
    }

    func testHostBitsAreIgnored() throws {
        let r = try range("10.1.2.3/8")
        XCTAssertEqual(r.description, "10.0.0.0/8")
        XCTAssertTrue(r.contains(ip: "10.200.0.1"))
    }

    func testMappedIPv6MatchesIPv4Range() throws {
        let r = try range("192.0.2.0/24")
        XCTAssertTrue(r.contains(try SocketAddress(ipAddress: "::ffff:192.0.2.9", port: 80)))
        XCTAssertTrue(r.contains(ip: "::ffff:192.0.2.9"))
        XCTAssertFalse(r.contains(try SocketAddress(ipAddress: "::ffff:198.51.100.1", port: 80)))
        // Not mapped: the same low 32 bits under another prefix are not IPv4.
        XCTAssertFalse(r.contains(try SocketAddress(ipAddress: "::c000:209", port: 80)))
        XCTAssertFalse(r.contains(try SocketAddress(ipAddress: "64:ff9b::192.0.2.9", port: 80)))
    }

    func testUnixSocketNeverMatches() throws {
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")
        XCTAssertFalse(try range("0.0.0.0/0").contains(unix))
        XCTAssertFalse(try range("::/0").contains(unix))
    }

    func testParseErrorsCarryPath() {
        for bad in ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "2001:db8::/129", "example.com", "10.0.0.0/8/8", "10.0.0.0/-1",
            "fe80::1%eth0", "256.0.0.1", "10.0.0.0/ 8", "::1/+8"]
        {
            XCTAssertThrowsError(try IPRange(parsing: bad, path: "routes[0].ipAllow[3]"), bad) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.path, "routes[0].ipAllow[3]", bad)
                XCTAssertFalse(e?.reason.isEmpty ?? true)
            }
        }
    }

    func testNonIPTextNeverMatches() throws {
        XCTAssertFalse(try range("::/0").contains(ip: "not an ip"))
        XCTAssertFalse(try range("0.0.0.0/0").contains(ip: "1.2.3.4:80"))
    }
}
