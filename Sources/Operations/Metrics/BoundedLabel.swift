import NIOConcurrencyHelpers

/// Keeps one label's values few: the first `limit` distinct values seen keep their own, later
/// ones read `other`.
///
/// Why: tunnel IDs and hostnames are chosen by agents and visitors (`Host:` of a wildcard
/// route), and every distinct value is a series Prometheus stores forever; an unbounded label
/// lets anyone grow the relay's memory and the scraper's.
public final class BoundedLabel: Sendable {
    /// The value everything beyond the bound is counted under.
    public static let other = "other"

    private let fixedLimit: Int?
    private let known = NIOLockedValueBox<Set<String>>([])

    /// - Parameter limit: values with a series of their own; unless given,
    ///   `PrometheusBackend.maxLabelValues` (the `metrics.maxHostnames` the process was started
    ///   with), read when a value is first seen: the relay makes its metrics objects before the
    ///   backend is installed.
    public init(limit: Int? = nil) {
        self.fixedLimit = limit.map { max($0, 1) }
    }

    /// Values with a series of their own.
    public var limit: Int { fixedLimit ?? PrometheusBackend.maxLabelValues }

    /// `value` if it is known or there is room for it, else `other`.
    public func fold(_ value: String) -> String {
        let limit = self.limit
        return known.withLockedValue { known in
            if known.contains(value) { return value }
            guard known.count < limit else { return Self.other }
            known.insert(value)
            return value
        }
    }
}
