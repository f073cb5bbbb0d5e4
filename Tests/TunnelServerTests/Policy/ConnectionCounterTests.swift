import Foundation
import XCTest

@testable import TunnelServer

/// Per-tunnel connection slots: the limit, release exactly once, release on deinit.
final class ConnectionCounterTests: XCTestCase {
    func testLimitPerTunnel() throws {
        let counter = ConnectionCounter()
        let a = counter.acquire("web", limit: 2)
        let b = counter.acquire("web", limit: 2)
        XCTAssertNotNil(a)
        XCTAssertNotNil(b)
        XCTAssertNil(counter.acquire("web", limit: 2))
        XCTAssertEqual(counter.count("web"), 2)
        // Another tunnel has its own slots.
        let other = counter.acquire("api", limit: 1)
        XCTAssertNotNil(other)
        a?.release()
        XCTAssertEqual(counter.count("web"), 1)
        XCTAssertNotNil(counter.acquire("web", limit: 2).map { lease in withExtendedLifetime(lease) { 1 } })
        _ = b
        _ = other
    }

    func testDoubleReleaseIsHarmless() throws {
        let counter = ConnectionCounter()
        let a = try XCTUnwrap(counter.acquire("web", limit: 2))
        let b = try XCTUnwrap(counter.acquire("web", limit: 2))
        a.release()
        a.release()
        XCTAssertEqual(counter.count("web"), 1)
        withExtendedLifetime(b) {}
    }

    func testDeinitReleases() {
        let counter = ConnectionCounter()
        do {
            let lease = counter.acquire("web", limit: 1)
            XCTAssertNotNil(lease)
            XCTAssertNil(counter.acquire("web", limit: 1))
        }
        XCTAssertEqual(counter.count("web"), 0)
        // Released explicitly, then dropped: still counted once.
        do {
            let lease = counter.acquire("web", limit: 1)
            lease?.release()
        }
        XCTAssertEqual(counter.count("web"), 0)
        XCTAssertNotNil(counter.acquire("web", limit: 1))
    }

    func testNoLimitStillCounts() {
        let counter = ConnectionCounter()
        let leases = (0..<10).compactMap { _ in counter.acquire("web", limit: 0) }
        XCTAssertEqual(leases.count, 10)
        XCTAssertEqual(counter.count("web"), 10)
    }

    func testConcurrentAcquireNeverExceedsLimit() {
        let counter = ConnectionCounter()
        let held = ManagedCounter()
        let over = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<500 {
                if let lease = counter.acquire("web", limit: 3) {
                    held.add()
                    if counter.count("web") > 3 { over.add() }
                    lease.release()
                }
            }
        }
        XCTAssertGreaterThan(held.value, 0)
        XCTAssertEqual(over.value, 0)
        XCTAssertEqual(counter.count("web"), 0)
    }
}
