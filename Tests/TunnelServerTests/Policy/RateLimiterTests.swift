import Foundation
import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// Token buckets per (rule, visitor): the rate, the burst, Retry-After, IPv6 /64 grouping, the
/// bound on memory, and the `RateLimit` text form.
final class RateLimiterTests: XCTestCase {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    func addr(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 5555) }

    func testParsing() throws {
        let a = try RateLimit(parsing: "10/s", path: "p")
        XCTAssertEqual(a, RateLimit(requests: 10, per: .seconds(1), burst: 10))
        let b = try RateLimit(parsing: "600/m", burst: 20, path: "p")
        XCTAssertEqual(b.requests, 600)
        XCTAssertEqual(b.per, .minutes(1))
        XCTAssertEqual(b.burst, 20)
        XCTAssertEqual(try RateLimit(parsing: " 100 / hour ", path: "p").per, .hours(1))
        XCTAssertEqual(try RateLimit(parsing: "5/min", path: "p").per, .minutes(1))
        for bad in ["", "10", "10/d", "/s", "0/s", "-1/s", "ten/s", "10/s/s", "1.5/s"] {
            XCTAssertThrowsError(try RateLimit(parsing: bad, path: "routes[1].rateLimit.rate"), bad) {
                XCTAssertEqual(($0 as? ConfigError)?.path, "routes[1].rateLimit.rate")
            }
        }
        XCTAssertThrowsError(try RateLimit(parsing: "10/s", burst: 0, path: "p"))
    }

    func testBurstThenRate() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 10, per: .seconds(1), burst: 3)
        let visitor = try addr("192.0.2.1")
        for _ in 0..<3 { XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0), .allowed) }
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0), .limited(retryAfter: 1))
        // One token every 100 ms.
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .milliseconds(99)), .limited(retryAfter: 1))
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .milliseconds(100)), .allowed)
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .milliseconds(100)), .limited(retryAfter: 1))
        // A long quiet spell refills only up to the burst.
        let later = t0 + .seconds(60)
        for _ in 0..<3 { XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: later), .allowed) }
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: later), .limited(retryAfter: 1))
    }

    func testRetryAfterRoundsUp() throws {
        let limiter = RateLimiter()
        let limit = try RateLimit(parsing: "100/h", burst: 1, path: "p")  // one per 36 s
        let visitor = try addr("192.0.2.1")
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0), .allowed)
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0), .limited(retryAfter: 36))
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .milliseconds(500)), .limited(retryAfter: 36))
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .seconds(35)), .limited(retryAfter: 1))
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .seconds(36)), .allowed)
    }

    func testRefusalsCostNothing() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 1, per: .seconds(1), burst: 1)
        let visitor = try addr("192.0.2.1")
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0), .allowed)
        for i in 1..<10 {
            XCTAssertNotEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .milliseconds(Int64(i * 50))), .allowed)
        }
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: visitor, now: t0 + .seconds(1)), .allowed)
    }

    func testKeysAndVisitorsAreSeparate() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 1, per: .seconds(1), burst: 1)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: try addr("192.0.2.1"), now: t0), .allowed)
        XCTAssertEqual(limiter.take(key: "b", limit: limit, address: try addr("192.0.2.1"), now: t0), .allowed)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: try addr("192.0.2.2"), now: t0), .allowed)
        XCTAssertNotEqual(limiter.take(key: "a", limit: limit, address: try addr("192.0.2.1"), now: t0), .allowed)
        // A mapped IPv4 address is that IPv4 visitor.
        XCTAssertNotEqual(limiter.take(key: "a", limit: limit, address: try addr("::ffff:192.0.2.2"), now: t0), .allowed)
    }

    func testIPv6CountsPer64() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 1, per: .seconds(1), burst: 1)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: try addr("2001:db8:1:2::1"), now: t0), .allowed)
        XCTAssertNotEqual(limiter.take(key: "a", limit: limit, address: try addr("2001:db8:1:2:ffff::9"), now: t0), .allowed)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: try addr("2001:db8:1:3::1"), now: t0), .allowed)
    }

    func testUnknownVisitorsShareABucket() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 1, per: .seconds(1), burst: 2)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: nil, now: t0), .allowed)
        XCTAssertEqual(limiter.take(key: "a", limit: limit, address: try SocketAddress(unixDomainSocketPath: "/tmp/s"), now: t0), .allowed)
        XCTAssertNotEqual(limiter.take(key: "a", limit: limit, address: nil, now: t0), .allowed)
    }

    func testBoundedDropsIdleBucketsFirst() throws {
        let limiter = RateLimiter(capacity: 64, shards: 1)
        let limit = RateLimit(requests: 1, per: .seconds(10), burst: 2)
        // An active visitor: its bucket is not full (one token left for ~10 s).
        let active = try addr("198.51.100.1")
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: active, now: t0), .allowed)
        // A flood of one-time visitors fills the table; by t0 + 1 s ... none has refilled yet.
        for i in 0..<63 {
            _ = limiter.take(key: "r", limit: limit, address: try addr("10.0.\(i / 250).\(i % 250)"), now: t0 + .milliseconds(Int64(i + 1)))
        }
        XCTAssertEqual(limiter.count, 64)
        // 30 s later the flood's buckets are full again (idle); the active visitor spends again.
        let later = t0 + .seconds(30)
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: active, now: later), .allowed)
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: active, now: later), .allowed)
        // A newcomer: the idle buckets are dropped, the active one (empty now) kept.
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: try addr("203.0.113.1"), now: later), .allowed)
        XCTAssertLessThanOrEqual(limiter.count, 64)
        XCTAssertEqual(limiter.count, 2)
        XCTAssertNotEqual(limiter.take(key: "r", limit: limit, address: active, now: later), .allowed)
    }

    func testBoundedDropsOldestWhenNoneIdle() throws {
        let limiter = RateLimiter(capacity: 64, shards: 1)
        let limit = RateLimit(requests: 1, per: .hours(1), burst: 1)
        for i in 0..<1000 {
            XCTAssertEqual(limiter.take(key: "r", limit: limit, address: try addr("10.0.\(i / 250).\(i % 250)"), now: t0 + .milliseconds(Int64(i))), .allowed)
            XCTAssertLessThanOrEqual(limiter.count, 64)
        }
        // The newest are remembered (still limited), the oldest were forgotten.
        XCTAssertNotEqual(limiter.take(key: "r", limit: limit, address: try addr("10.0.3.249"), now: t0 + .seconds(2)), .allowed)
        XCTAssertEqual(limiter.take(key: "r", limit: limit, address: try addr("10.0.0.0"), now: t0 + .seconds(2)), .allowed)
    }

    func testShardedCapacityIsBounded() throws {
        let limiter = RateLimiter(capacity: 1600, shards: 16)
        let limit = RateLimit(requests: 1, per: .hours(1), burst: 1)
        for i in 0..<5000 {
            _ = limiter.take(key: "r", limit: limit, address: try addr("10.\(i / 65536).\((i / 256) % 256).\(i % 256)"), now: t0)
        }
        XCTAssertLessThanOrEqual(limiter.count, 1600)
        XCTAssertGreaterThan(limiter.count, 800)
    }

    func testConcurrentTakesCountEveryRequest() throws {
        let limiter = RateLimiter()
        let limit = RateLimit(requests: 1, per: .hours(1), burst: 1000)
        let visitor = try addr("192.0.2.1")
        let now = t0
        let allowed = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<200 where limiter.take(key: "r", limit: limit, address: visitor, now: now) == .allowed { allowed.add() }
        }
        XCTAssertEqual(allowed.value, 1000)
    }
}

/// A counter several threads add to (tests only).
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int = 1) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}
