import Metrics
import NIOConcurrencyHelpers

/// Counts what visitor policy refused, as `tunnel_policy_refusals_total{reason, rule}` (reason:
/// `ip_denied`, `rate_limited`, `too_many_connections`, ...; rule: the route or tunnel whose policy
/// refused), so an operator sees which rule bites and why.
///
/// The counters are made once and kept (making one per refusal would go through the metrics
/// backend's registry each time, under a flood). The cache is bounded: rules and reasons beyond
/// the first `maxRules` / `maxReasons` distinct values are counted under `other`, so tunnel names
/// chosen by agents cannot grow the backend's series without limit.
public final class PolicyCounters: Sendable {
    public static let label = "tunnel_policy_refusals_total"
    /// The value a rule or a reason beyond the bounds is counted under.
    public static let overflow = "other"

    public let maxRules: Int
    public let maxReasons: Int

    private struct State {
        var counters: [Pair: Counter] = [:]
        var rules: Set<String> = []
        var reasons: Set<String> = []
    }
    private struct Pair: Hashable {
        var reason: String
        var rule: String
    }
    private let state = NIOLockedValueBox(State())
    private let factory: (any MetricsFactory)?

    /// - Parameter factory: the metrics backend; unless a test brings its own, the process's
    ///   (`MetricsSystem.factory`) as it is when a counter is first needed: the relay makes its
    ///   gate before `-metrics` installs the backend.
    public init(maxRules: Int = 200, maxReasons: Int = 32, factory: (any MetricsFactory)? = nil) {
        self.maxRules = maxRules
        self.maxReasons = maxReasons
        self.factory = factory
    }

    /// Counts one refusal.
    public func refused(reason: String, rule: String) {
        let counter = state.withLockedValue { s in
            let reason = Self.admit(reason, into: &s.reasons, bound: maxReasons)
            let rule = Self.admit(rule, into: &s.rules, bound: maxRules)
            let pair = Pair(reason: reason, rule: rule)
            if let counter = s.counters[pair] { return counter }
            let counter = Counter(label: Self.label, dimensions: [("reason", reason), ("rule", rule)], factory: factory ?? MetricsSystem.factory)
            s.counters[pair] = counter
            return counter
        }
        counter.increment()
    }

    /// `value` if it is known or there is room for it, else `other`.
    private static func admit(_ value: String, into known: inout Set<String>, bound: Int) -> String {
        if known.contains(value) { return value }
        guard known.count < bound else { return overflow }
        known.insert(value)
        return value
    }
}
