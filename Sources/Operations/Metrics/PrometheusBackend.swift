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

    /// Buckets of every duration histogram (Mux RTT, stream-open and request latency): from
    /// half a millisecond on loopback to ten seconds across the world.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    /// Installs the backend (the first call) and returns its registry.
    public static func install() -> PrometheusCollectorRegistry {
        installed.withLockedValue { current in
            if let current { return current }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.defaultDurationHistogramBuckets = durationBuckets
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
    }

    /// The installed registry, nil when metrics are off.
    public static var registry: PrometheusCollectorRegistry? { installed.withLockedValue { $0 } }
}
