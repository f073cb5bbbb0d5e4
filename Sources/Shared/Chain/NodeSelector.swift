import NIOConcurrencyHelpers

/// How a hop or forwarder picks one of its nodes for the next connection.
public enum SelectionStrategy: String, Sendable, Codable, CaseIterable {
    /// Round-robin over the available nodes.
    case round
    /// A uniformly random available node.
    case rand
    /// The first available node, in order: a primary with fallbacks.
    case fifo
}

/// Selector settings, GOST's `selector {strategy, maxFails, failTimeout}`.
public struct SelectorOptions: Sendable, Hashable {
    public var strategy: SelectionStrategy
    /// Failures in a row that take a node out of rotation.
    public var maxFails: Int
    /// How long a node stays out before it is tried again.
    public var failTimeout: Duration

    public init(strategy: SelectionStrategy = .round, maxFails: Int = 1, failTimeout: Duration = .seconds(10)) {
        self.strategy = strategy
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }
}

/// Picks nodes and remembers failures, so a dead node is skipped until its timeout passes.
///
/// Shared by every connection of a service, hence a lock; it is held only for a few integer ops.
public final class NodeSelector: Sendable {
    public let nodes: [Node]
    public let options: SelectorOptions
    private let state: NIOLockedValueBox<State>

    private struct State {
        var next = 0
        var fails: [Int]
        var failedAt: [ContinuousClock.Instant?]
    }

    public init(nodes: [Node], options: SelectorOptions = SelectorOptions()) {
        self.nodes = nodes
        self.options = options
        self.state = NIOLockedValueBox(State(fails: Array(repeating: 0, count: nodes.count), failedAt: Array(repeating: nil, count: nodes.count)))
    }

    /// The index of the node to use next, or nil when there are no nodes. When every node is
    /// marked failed, all are candidates again: trying a suspect node beats refusing outright.
    public func select(now: ContinuousClock.Instant = .now, excluding: Set<Int> = []) -> Int? {
        guard !nodes.isEmpty else { return nil }
        return state.withLockedValue { s in
            var candidates = nodes.indices.filter { i in
                guard !excluding.contains(i) else { return false }
                guard s.fails[i] >= options.maxFails, let at = s.failedAt[i] else { return true }
                return now - at >= options.failTimeout
            }
            if candidates.isEmpty {
                candidates = nodes.indices.filter { !excluding.contains($0) }
            }
            guard !candidates.isEmpty else { return nil }
            switch options.strategy {
            case .fifo:
                return candidates[0]
            case .rand:
                return candidates.randomElement()
            case .round:
                let pick = candidates[s.next % candidates.count]
                s.next &+= 1
                return pick
            }
        }
    }

    public func markFailure(_ index: Int, now: ContinuousClock.Instant = .now) {
        state.withLockedValue { s in
            s.fails[index] += 1
            s.failedAt[index] = now
        }
    }

    public func markSuccess(_ index: Int) {
        state.withLockedValue { s in
            s.fails[index] = 0
            s.failedAt[index] = nil
        }
    }
}
