import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// Allow/deny semantics: deny wins, a non-empty allow list is exclusive, unknown addresses refused
/// once any list is set.
final class IPAccessListTests: XCTestCase {
    func list(allow: [String] = [], deny: [String] = []) throws -> IPAccessList {
        try IPAccessList(allow: allow, deny: deny, path: "test")
    }
    func addr(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 4000) }

    func testEmptyAdmitsEverythingEvenUnknown() throws {
        let l = try list()
        XCTAssertTrue(l.isEmpty)
        XCTAssertTrue(l.admits(try addr("1.2.3.4")))
        XCTAssertTrue(l.admits(nil))
        XCTAssertTrue(l.admits(try SocketAddress(unixDomainSocketPath: "/tmp/s")))
    }

    func testAllowListIsExclusive() throws {
        let l = try list(allow: ["10.0.0.0/8", "2001:db8::/32"])
        XCTAssertTrue(l.admits(try addr("10.9.9.9")))
        XCTAssertTrue(l.admits(try addr("2001:db8::5")))
        XCTAssertTrue(l.admits(try addr("::ffff:10.0.0.1")))
        XCTAssertFalse(l.admits(try addr("11.0.0.1")))
        XCTAssertFalse(l.admits(try addr("2001:db9::5")))
        XCTAssertTrue(l.admits(ip: "10.1.1.1"))
        XCTAssertFalse(l.admits(ip: "8.8.8.8"))
    }

    func testDenyWins() throws {
        let l = try list(allow: ["10.0.0.0/8"], deny: ["10.6.6.0/24"])
        XCTAssertTrue(l.admits(try addr("10.6.7.1")))
        XCTAssertFalse(l.admits(try addr("10.6.6.1")))
        let both = try list(allow: ["1.2.3.4"], deny: ["1.2.3.4"])
        XCTAssertFalse(both.admits(try addr("1.2.3.4")))
    }

    func testDenyOnlyAdmitsTheRest() throws {
        let l = try list(deny: ["192.0.2.0/24", "::ffff:198.51.100.0/120"])
        XCTAssertFalse(l.admits(try addr("192.0.2.1")))
        XCTAssertFalse(l.admits(try addr("198.51.100.1")))
        XCTAssertTrue(l.admits(try addr("203.0.113.1")))
        XCTAssertTrue(l.admits(try addr("2001:db8::1")))
    }

    func testUnknownRefusedWhenAnyListIsSet() throws {
        XCTAssertFalse(try list(deny: ["192.0.2.0/24"]).admits(nil))
        XCTAssertFalse(try list(allow: ["0.0.0.0/0", "::/0"]).admits(nil))
        XCTAssertFalse(try list(deny: ["192.0.2.0/24"]).admits(try SocketAddress(unixDomainSocketPath: "/tmp/s")))
        XCTAssertFalse(try list(deny: ["192.0.2.0/24"]).admits(ip: "garbage"))
    }

    func testErrorsNameTheEntry() {
        XCTAssertThrowsError(try IPAccessList(allow: ["10.0.0.0/8", "nope"], deny: [], path: "tunnels.web")) {
            XCTAssertEqual(($0 as? ConfigError)?.path, "tunnels.web.allow[1]")
        }
        XCTAssertThrowsError(try IPAccessList(allow: [], deny: ["1.2.3.4/40"], path: "tunnels.web")) {
            XCTAssertEqual(($0 as? ConfigError)?.path, "tunnels.web.deny[0]")
        }
    }

    /// Many ranges and many checks, to show the check itself does no string work (it would take far
    /// longer otherwise); bounded in count, no timing asserted.
    func testManyChecks() throws {
        let ranges = (0..<64).map { "10.\($0).0.0/16" }
        let l = try list(allow: ranges)
        let inside = try addr("10.63.1.1")
        let outside = try addr("11.0.0.1")
        var admitted = 0
        for _ in 0..<10_000 where l.admits(inside) && !l.admits(outside) { admitted += 1 }
        XCTAssertEqual(admitted, 10_000)
    }
}
