import NIOConcurrencyHelpers
import NIOCore

/// What each tunnel has carried since the relay started, for the admin API, the dashboard's
/// graph and the status command: streams open and opened, bytes each way, HTTP answers by class.
///
/// Why its own table rather than reading Prometheus: the API must work without `-metrics`, and
/// per-tunnel totals must outlive the sessions that carried them (an agent reconnecting does not
/// reset its tunnel's graph). Bounded: beyond `maxTunnels` IDs, new ones are counted under
/// `other`.
public final class TunnelTraffic: Sendable {
    /// One tunnel's totals.
    public struct Totals: Sendable, Equatable, Codable {
        public var openStreams = 0
        public var streamsTotal = 0
        /// From visitors towards the agent.
        public var bytesIn = 0
        /// From the agent towards visitors.
        public var bytesOut = 0
        /// HTTP answers by class: `1xx` … `5xx`.
        public var requests: [String: Int] = ["1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0]

        public init() {}
    }

    /// The label tunnels beyond the bound are counted under.
    public static let other = "other"

    private let table = NIOLockedValueBox<[String: Totals]>([:])
    public let maxTunnels: Int
    /// The same traffic for Prometheus (no-ops without `-metrics`), with request latencies.
    package let metrics: RelayMetrics

    public convenience init(maxTunnels: Int = 1000) {
        self.init(maxTunnels: maxTunnels, metrics: RelayMetrics())
    }

    package init(maxTunnels: Int = 1000, metrics: RelayMetrics) {
        self.maxTunnels = maxTunnels
        self.metrics = metrics
    }

    private func update(_ tunnel: String, _ change: (inout Totals) -> Void) {
        table.withLockedValue { table in
            let key = table[tunnel] != nil || table.count < maxTunnels ? tunnel : Self.other
            change(&table[key, default: Totals()])
        }
    }

    /// A stream to the agent of `tunnel` opened.
    public func streamOpened(tunnel: String) {
        update(tunnel) {
            $0.openStreams += 1
            $0.streamsTotal += 1
        }
    }

    /// A stream to the agent of `tunnel` ended.
    public func streamClosed(tunnel: String) {
        update(tunnel) { $0.openStreams = max(0, $0.openStreams - 1) }
    }

    /// `toAgent` bytes went from visitors to `tunnel`'s agent, `toVisitor` back.
    public func carried(tunnel: String, toAgent: Int, toVisitor: Int) {
        update(tunnel) {
            $0.bytesIn &+= toAgent
            $0.bytesOut &+= toVisitor
        }
    }

    /// An HTTP exchange of `tunnel` was answered with `status`.
    public func answered(tunnel: String, status: Int) {
        let key = (100...599).contains(status) ? "\(status / 100)xx" : "5xx"
        update(tunnel) { $0.requests[key, default: 0] += 1 }
    }

    /// An HTTP exchange ended at `now`: counted here and in the metrics, with its host and latency.
    package func answered(_ exchange: HTTPExchange, now: NIODeadline) {
        if let status = exchange.status { answered(tunnel: exchange.tunnel, status: status) }
        metrics.answered(tunnel: exchange.tunnel, host: exchange.host, status: exchange.status, duration: now - exchange.started)
    }

    /// The handler that counts a stream to `tunnel`'s agent here and in the metrics (first in
    /// the stream's pipeline).
    package func counter(forStreamOf tunnel: String) -> StreamCountingHandler {
        streamOpened(tunnel: tunnel)
        return StreamCountingHandler(
            series: metrics.streams.series(tunnel: tunnel), reads: .outward,
            carried: { [self] read, written in carried(tunnel: tunnel, toAgent: written, toVisitor: read) },
            closed: { [self] in streamClosed(tunnel: tunnel) })
    }

    /// Every tunnel's totals, by ID.
    public func totals() -> [String: Totals] {
        table.withLockedValue { $0 }
    }
}
