import NIOConcurrencyHelpers

/// The labeled metrics of one name, made once per label set and kept.
///
/// Why: making a swift-metrics object goes through the backend's registry (a lock and a
/// dictionary of the whole family); a data path that counts per request or per stream looks its
/// metric up here instead. The label values must already be bounded (`BoundedLabel`), which
/// bounds this cache too.
public final class MetricCache<Metric: Sendable>: Sendable {
    private let made = NIOLockedValueBox<[[String]: Metric]>([:])
    private let make: @Sendable ([String]) -> Metric

    /// - Parameter make: makes the metric of one list of label values.
    public init(_ make: @escaping @Sendable ([String]) -> Metric) {
        self.make = make
    }

    /// The metric of these label values (in the order `make` expects them).
    public func callAsFunction(_ values: String...) -> Metric {
        metric(values)
    }

    /// The metric of these label values (in the order `make` expects them).
    public func metric(_ values: [String]) -> Metric {
        made.withLockedValue { made in
            if let metric = made[values] { return metric }
            let metric = make(values)
            made[values] = metric
            return metric
        }
    }
}
