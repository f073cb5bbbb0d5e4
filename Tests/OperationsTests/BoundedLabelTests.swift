import XCTest

@testable import Operations

/// Label values past the bound read `other`; values seen before keep theirs; the cache makes one
/// metric per label set.
final class BoundedLabelTests: XCTestCase {
    func testValuesBeyondTheBoundFoldIntoOther() {
        let label = BoundedLabel(limit: 2)
        XCTAssertEqual(label.fold("a"), "a")
        XCTAssertEqual(label.fold("b"), "b")
        XCTAssertEqual(label.fold("c"), "other")
        XCTAssertEqual(label.fold("a"), "a", "a value seen before the bound keeps its own")
        XCTAssertEqual(label.fold("d"), "other")
        XCTAssertEqual(label.limit, 2)
    }

    func testWithoutALimitTheInstalledBoundApplies() {
        XCTAssertEqual(BoundedLabel().limit, PrometheusBackend.maxLabelValues)
    }

    func testCacheMakesEachLabelSetOnce() {
        final class Made: Sendable {}
        let calls = MetricCacheCalls()
        let cache = MetricCache<Made> { _ in
            calls.add()
            return Made()
        }
        let a = cache("x", "1")
        XCTAssertTrue(a === cache("x", "1"))
        XCTAssertFalse(a === cache("x", "2"))
        XCTAssertEqual(calls.count, 2)
    }
}

/// Counts the cache's `make` calls (from any thread).
final class MetricCacheCalls: @unchecked Sendable {
    private let lock = NSLock()
    private var made = 0
    func add() { lock.withLock { made += 1 } }
    var count: Int { lock.withLock { made } }
}
