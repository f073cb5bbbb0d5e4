import Metrics

/// Streams per tunnel and the bytes they carry, with the same names on the relay and the agent
/// (each process exposes its own side):
///
/// - `tunnel_streams_open{tunnel}` (gauge): streams of the tunnel open now.
/// - `tunnel_streams_total{tunnel}` (counter): streams opened.
/// - `tunnel_bytes_total{tunnel, direction}` (counter): bytes carried on them; `in` from
///   visitors towards the local service, `out` back, on both sides.
///
/// Tunnels beyond the label bound (`metrics.maxHostnames`) are `other`. Metric objects are made
/// when a tunnel's first stream opens, not here: a relay builds this before `-metrics` installs
/// the backend.
public final class StreamMetrics: Sendable {
    /// One tunnel's metrics, looked up once per stream.
    public struct Series: Sendable {
        public let open: Meter
        public let total: Counter
        public let bytesIn: Counter
        public let bytesOut: Counter
    }

    private let tunnels: BoundedLabel
    private let cache: MetricCache<Series>

    /// - Parameters:
    ///   - limit: tunnels with a label value of their own (default: `metrics.maxHostnames`).
    ///   - factory: the metrics backend; the process's unless a test brings its own.
    public init(limit: Int? = nil, factory: (any MetricsFactory)? = nil) {
        tunnels = BoundedLabel(limit: limit)
        cache = MetricCache { key in
            let factory = factory ?? MetricsSystem.factory
            let tunnel = ("tunnel", key[0])
            return Series(
                open: Meter(label: "tunnel_streams_open", dimensions: [tunnel], factory: factory),
                total: Counter(label: "tunnel_streams_total", dimensions: [tunnel], factory: factory),
                bytesIn: Counter(label: "tunnel_bytes_total", dimensions: [tunnel, ("direction", "in")], factory: factory),
                bytesOut: Counter(label: "tunnel_bytes_total", dimensions: [tunnel, ("direction", "out")], factory: factory))
        }
    }

    /// The metrics of `tunnel` (or of `other`).
    public func series(tunnel: String) -> Series {
        cache(tunnels.fold(tunnel))
    }
}
