import MetricsTestKit
import XCTest

@testable import TunnelServer

/// Refusal counters: one series per (reason, rule), made once; rules past the bound fold into
/// "other".
final class PolicyCountersTests: XCTestCase {
    func testCountsPerReasonAndRule() throws {
        let metrics = TestMetrics()
        let counters = PolicyCounters(factory: metrics)
        counters.refused(reason: "ip_denied", rule: "web")
        counters.refused(reason: "ip_denied", rule: "web")
        counters.refused(reason: "rate_limited", rule: "web")
        counters.refused(reason: "ip_denied", rule: "api")
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total", dimensions: [("reason", "ip_denied"), ("rule", "web")]), 2)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total", dimensions: [("reason", "rate_limited"), ("rule", "web")]), 1)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total", dimensions: [("reason", "ip_denied"), ("rule", "api")]), 1)
        XCTAssertEqual(metrics.counters(label: "tunnel_policy_refusals_total").count, 3)
    }

    func testRulesBeyondTheBoundFoldIntoOther() throws {
        let metrics = TestMetrics()
        let counters = PolicyCounters(maxRules: 200, factory: metrics)
        for i in 0..<250 { counters.refused(reason: "rate_limited", rule: "tunnel-\(i)") }
        // A rule seen before the bound keeps its own series.
        counters.refused(reason: "rate_limited", rule: "tunnel-0")
        XCTAssertEqual(metrics.counters(label: "tunnel_policy_refusals_total").count, 201)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total", dimensions: [("reason", "rate_limited"), ("rule", "other")]), 50)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total", dimensions: [("reason", "rate_limited"), ("rule", "tunnel-0")]), 2)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_policy_refusals_total"), 251)
    }
}
