import Metrics
import NIOConcurrencyHelpers
import Prometheus

/// The process's Prometheus registry, installed once as swift-metrics' backend.
///
/// Why once and lazily: `MetricsSystem.bootstrap` may run only once per process, and only a
/// process started with `-metrics` (or a `metrics:` section) should pay for recording; without
/// it every metric stays swift-metrics' no-op.
public enum PrometheusBackend {
    private static let installed = NIOLockedValueBox<PrometheusCollectorRegistry?>(nil)
    private static let labelBound = NIOLockedValueBox(100)

    /// Buckets of every duration histogram (Mux RTT, stream-open and request latency): from
    /// half a millisecond on loopback to ten seconds across the world.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    /// Buckets of the byte-size histograms (`tunnel_mux_stream_window_bytes`): the Mux receive
    /// window starts at 256 KiB and doubles up to 16 MiB.
    public static let windowBuckets: [Double] = (0...6).map { Double((256 * 1024) << $0) }

    /// The byte-size histograms, by name (the others keep the backend's default buckets).
    static let valueBuckets: [String: [Double]] = ["tunnel_mux_stream_window_bytes": windowBuckets]

    /// Installs the backend (the first call) and returns its registry.
    /// - Parameter maxHostnames: `metrics.maxHostnames`: how many hostnames, and how many
    ///   tunnels, get a label value of their own (`maxLabelValues`); the rest are `other`.
    public static func install(maxHostnames: Int = 100) -> PrometheusCollectorRegistry {
        labelBound.withLockedValue { $0 = max(maxHostnames, 1) }
        return installed.withLockedValue { current in
            if let current { return current }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.defaultDurationHistogramBuckets = durationBuckets
            factory.valueHistogramBuckets = valueBuckets
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
    }

    /// How many values a bounded label (tunnel, hostname) keeps before folding the rest into
    /// `other`: `metrics.maxHostnames`, handed over at `install`; 100 before (and without) it.
    ///
    /// Why a process-wide value: the relay and agent make their metrics deep in their data paths,
    /// long after the settings were resolved, and there is one Prometheus registry per process
    /// anyway.
    public static var maxLabelValues: Int { labelBound.withLockedValue { $0 } }

    /// The installed registry, nil when metrics are off.
    public static var registry: PrometheusCollectorRegistry? { installed.withLockedValue { $0 } }
}
