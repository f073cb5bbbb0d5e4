import NIOCore
import XCTest

@testable import Shared

final class ConnectionLimiterTests: XCTestCase {
    func testPerAddressAndTotalCaps() {
        let limiter = ConnectionLimiter(maxTotal: 5, maxPerAddress: 2)
        XCTAssertNil(limiter.admit("a"))
        XCTAssertNil(limiter.admit("a"))
        XCTAssertEqual(limiter.admit("a"), .perAddress(2))
        XCTAssertNil(limiter.admit("b"))
        XCTAssertNil(limiter.admit("b"))
        XCTAssertNil(limiter.admit("c"))
        XCTAssertEqual(limiter.admit("d"), .total(5), "the total cap holds for a new address")
        XCTAssertEqual(limiter.counts.open, 5)
        XCTAssertEqual(limiter.counts.refused, 2)
        limiter.release("a")
        XCTAssertNil(limiter.admit("d"), "a released slot is free again")
        limiter.release("b")
        XCTAssertNil(limiter.admit("a"))
        XCTAssertEqual(limiter.counts.open, 5)
    }

    func testZeroMeansNoCap() {
        let limiter = ConnectionLimiter(maxTotal: 0, maxPerAddress: 0)
        for _ in 0..<10_000 { XCTAssertNil(limiter.admit("a")) }
        for _ in 0..<10_000 { limiter.release("a") }
        XCTAssertEqual(limiter.counts.open, 0)
    }

    /// A flood of refusals is reported at info level at most once per interval.
    func testRefusalsAreReportedOncePerInterval() {
        let limiter = ConnectionLimiter(maxTotal: 1, maxPerAddress: 0)
        let t0 = NIODeadline.now()
        XCTAssertTrue(limiter.shouldReport(now: t0))
        XCTAssertFalse(limiter.shouldReport(now: t0 + .seconds(5)))
        XCTAssertTrue(limiter.shouldReport(now: t0 + .seconds(11)))
    }

    /// IPv6 sources count per /64; IPv4 (and IPv4-mapped IPv6) per address.
    func testSourcesAreIPv4AddressesOrIPv6Slash64s() throws {
        let a = try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let b = try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 2)
        let c = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        XCTAssertEqual(ConnectionLimiter.sourceKey(a), ConnectionLimiter.sourceKey(b))
        XCTAssertNotEqual(ConnectionLimiter.sourceKey(a), ConnectionLimiter.sourceKey(c))
        XCTAssertEqual(ConnectionLimiter.sourceKey(a), "2001:0db8:0001:0002::/64")
        XCTAssertEqual(ConnectionLimiter.sourceKey(try SocketAddress(ipAddress: "192.0.2.7", port: 1)), "192.0.2.7")
        XCTAssertEqual(ConnectionLimiter.sourceKey(try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)), "192.0.2.7")
    }
}
