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
}
