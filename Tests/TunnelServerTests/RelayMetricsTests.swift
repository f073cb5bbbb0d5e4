import MetricsTestKit
import NIOCore
import NIOEmbedded
import XCTest

import Operations
@testable import TunnelServer

/// The relay's traffic metrics: label values bounded (beyond the bound: `other`), and a stream's
/// counting handler feeding both the per-tunnel totals and the metrics.
final class RelayMetricsTests: XCTestCase {
    func testHostnamesAndTunnelsBeyondTheBoundFoldIntoOther() throws {
        let metrics = TestMetrics()
        let relay = RelayMetrics(limit: 2, factory: metrics)
        for (tunnel, host) in [("t1", "a.test"), ("t2", "b.test"), ("t3", "c.test"), ("t1", "a.test"), ("t3", "d.test")] {
            relay.answered(tunnel: tunnel, host: host, status: 200, duration: .milliseconds(3))
        }
        relay.answered(tunnel: "t1", host: "a.test", status: nil, duration: .milliseconds(1))
        let label = "tunnel_http_requests_total"
        XCTAssertEqual(metrics.counterTotal(label: label, dimensions: [("tunnel", "t1"), ("host", "a.test"), ("class", "2xx")]), 2)
        XCTAssertEqual(metrics.counterTotal(label: label, dimensions: [("tunnel", "t2"), ("host", "b.test"), ("class", "2xx")]), 1)
        XCTAssertEqual(metrics.counterTotal(label: label, dimensions: [("tunnel", "other"), ("host", "other"), ("class", "2xx")]), 2)
        XCTAssertEqual(metrics.counterTotal(label: label, dimensions: [("tunnel", "t1"), ("host", "a.test"), ("class", "5xx")]), 1, "no answer counts 5xx")
        XCTAssertEqual(metrics.counters(label: label).count, 4)
        XCTAssertEqual(try metrics.expectTimer("tunnel_http_request_duration_seconds").values.count, 6)
    }

    func testHostnamesLoseTheirPortAndCase() {
        XCTAssertEqual(RelayMetrics.hostname("app.test:8080"), "app.test")
        XCTAssertEqual(RelayMetrics.hostname("App.Test"), "app.test")
        XCTAssertEqual(RelayMetrics.hostname("[::1]:443"), "[::1]")
        XCTAssertEqual(RelayMetrics.hostname("app.test"), "app.test")
    }

    func testStatusClasses() {
        XCTAssertEqual(RelayMetrics.statusClass(101), "1xx")
        XCTAssertEqual(RelayMetrics.statusClass(204), "2xx")
        XCTAssertEqual(RelayMetrics.statusClass(308), "3xx")
        XCTAssertEqual(RelayMetrics.statusClass(429), "4xx")
        XCTAssertEqual(RelayMetrics.statusClass(503), "5xx")
        XCTAssertEqual(RelayMetrics.statusClass(999), "5xx")
        XCTAssertEqual(RelayMetrics.statusClass(nil), "5xx")
    }

    /// Bytes read from the agent are `out`, written to it `in`; handed over at read-complete and
    /// flush; the stream counts open until its channel closes.
    func testStreamCounterFeedsTotalsAndMetrics() throws {
        let metrics = TestMetrics()
        let traffic = TunnelTraffic(maxTunnels: 10, metrics: RelayMetrics(limit: 1, factory: metrics))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(traffic.counter(forStreamOf: "web"))
        XCTAssertEqual(traffic.totals()["web"]?.openStreams, 1)
        XCTAssertEqual(try metrics.expectMeter("tunnel_streams_open", [("tunnel", "web")]).lastValue, 1)
        try channel.writeInbound(ByteBuffer(repeating: 1, count: 10))
        try channel.writeInbound(ByteBuffer(repeating: 1, count: 7))
        channel.pipeline.fireChannelReadComplete()
        try channel.writeOutbound(ByteBuffer(repeating: 2, count: 5))
        XCTAssertEqual(traffic.totals()["web"]?.bytesOut, 17)
        XCTAssertEqual(traffic.totals()["web"]?.bytesIn, 5)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_bytes_total", dimensions: [("tunnel", "web"), ("direction", "out")]), 17)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_bytes_total", dimensions: [("tunnel", "web"), ("direction", "in")]), 5)
        // A second tunnel is beyond the bound of 1: its metrics are `other`'s (the totals table
        // has its own, larger bound).
        let second = EmbeddedChannel()
        try second.pipeline.syncOperations.addHandler(traffic.counter(forStreamOf: "api"))
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_streams_total", dimensions: [("tunnel", "other")]), 1)
        XCTAssertEqual(traffic.totals()["api"]?.streamsTotal, 1)
        _ = try channel.finish()
        _ = try second.finish()
        XCTAssertEqual(traffic.totals()["web"]?.openStreams, 0)
        XCTAssertEqual(try metrics.expectMeter("tunnel_streams_open", [("tunnel", "web")]).lastValue, 0)
        XCTAssertEqual(metrics.counterTotal(label: "tunnel_streams_total", dimensions: [("tunnel", "web")]), 1)
    }
}
