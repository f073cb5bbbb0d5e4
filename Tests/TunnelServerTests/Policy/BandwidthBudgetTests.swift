import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// The tunnel's byte bucket: pauses, debt, refill, and the `BandwidthLimit` text form.
final class BandwidthBudgetTests: XCTestCase {
    let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000_000)

    func testParsingUnits() throws {
        func rate(_ text: String) throws -> Int { try BandwidthLimit(parsing: text, path: "p").bytesPerSecond }
        XCTAssertEqual(try rate("10MB/s"), 10 * 1024 * 1024)
        XCTAssertEqual(try rate("512KB/s"), 512 * 1024)
        XCTAssertEqual(try rate("512KiB/s"), 512 * 1024)
        XCTAssertEqual(try rate("1GB/s"), 1024 * 1024 * 1024)
        XCTAssertEqual(try rate("1Mbit/s"), 125_000)
        XCTAssertEqual(try rate("100Kbit/s"), 12_500)
        XCTAssertEqual(try rate("1.5MB/s"), 1_572_864)
        XCTAssertEqual(try rate("2 MB/s"), 2 * 1024 * 1024)
        XCTAssertEqual(try rate("1MB"), 1024 * 1024)  // frp writes it without /s
        XCTAssertEqual(try rate("4096"), 4096)
        XCTAssertEqual(try rate("4096B/s"), 4096)
        for bad in ["", "fast", "10mb/s", "10Mb/s", "0KB/s", "-1MB/s", "MB/s", "10TB/s", "1e3MB/s", "10MB/m", "1..5MB"] {
            XCTAssertThrowsError(try BandwidthLimit(parsing: bad, path: "tunnels.web.bandwidth"), bad) {
                XCTAssertEqual(($0 as? ConfigError)?.path, "tunnels.web.bandwidth", bad)
            }
        }
        XCTAssertThrowsError(try BandwidthLimit(parsing: "1MB/s", burst: "lots", path: "t")) {
            XCTAssertEqual(($0 as? ConfigError)?.path, "t.burst")
        }
        XCTAssertEqual(try BandwidthLimit(parsing: "1MB/s", burst: "256KB", path: "t").burst, 256 * 1024)
    }

    func testDefaultBurst() {
        XCTAssertEqual(BandwidthLimit(bytesPerSecond: 10_000_000).burst, 1_000_000)
        XCTAssertEqual(BandwidthLimit(bytesPerSecond: 100_000).burst, 64 * 1024)
        XCTAssertEqual(BandwidthLimit(bytesPerSecond: 100_000, burst: 5).burst, 5)
    }

    func testWithinBurstNoPause() {
        let budget = BandwidthBudget(bytesPerSecond: 100_000, burst: 50_000)
        XCTAssertEqual(budget.spend(20_000, now: t0), .zero)
        XCTAssertEqual(budget.spend(30_000, now: t0), .zero)
        XCTAssertEqual(budget.spend(0, now: t0), .zero)
    }

    func testDebtGivesPause() {
        let budget = BandwidthBudget(bytesPerSecond: 100_000, burst: 50_000)
        XCTAssertEqual(budget.spend(50_000, now: t0), .zero)
        // 10 000 bytes past the bucket: 100 ms at 100 000 B/s; the read is never refused.
        XCTAssertEqual(budget.spend(10_000, now: t0), .milliseconds(100))
        // More debt, longer pause: the pause is the whole debt's.
        XCTAssertEqual(budget.spend(10_000, now: t0), .milliseconds(200))
        // Time pays it back.
        XCTAssertEqual(budget.spend(0, now: t0 + .milliseconds(150)), .milliseconds(50))
        XCTAssertEqual(budget.spend(0, now: t0 + .milliseconds(200)), .zero)
    }

    func testRefillCapsAtBurst() {
        let budget = BandwidthBudget(bytesPerSecond: 100_000, burst: 50_000)
        XCTAssertEqual(budget.spend(50_000, now: t0), .zero)
        // A minute idle refills only the burst.
        let later = t0 + .seconds(60)
        XCTAssertEqual(budget.spend(50_000, now: later), .zero)
        XCTAssertEqual(budget.spend(1_000, now: later), .milliseconds(10))
    }

    /// The long-run rate: bytes admitted over simulated time match the rate, plus one burst.
    func testLongRunRate() {
        let budget = BandwidthBudget(bytesPerSecond: 1_000_000, burst: 100_000)
        var now = t0
        var admitted = 0
        let end = t0 + .seconds(10)
        var steps = 0
        while now < end, steps < 100_000 {
            steps += 1
            let pause = budget.spend(16_384, now: now)
            admitted += 16_384
            now = now + (pause > .zero ? pause : .nanoseconds(1))
        }
        // 10 s at 1 MB/s, plus the burst, plus the last read's overshoot.
        XCTAssertGreaterThanOrEqual(admitted, 10_000_000)
        XCTAssertLessThanOrEqual(admitted, 10_000_000 + 100_000 + 16_384)
    }

    func testSharedAcrossThreads() {
        let budget = BandwidthBudget(bytesPerSecond: 1_000, burst: 1_000)
        let t0 = self.t0
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<250 { _ = budget.spend(10, now: t0) }
        }
        // 10 000 bytes spent in all, 1 000 in the bucket: 9 s of debt.
        XCTAssertEqual(budget.spend(0, now: t0), .seconds(9))
    }
}
