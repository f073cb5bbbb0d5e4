import NIOConcurrencyHelpers

/// Counts the visitor connections each tunnel holds, to cap them per tunnel (`maxConnections`):
/// one tunnel's flood must not take every file descriptor of the relay, and an operator can size a
/// tunnel to what its local service can take.
///
/// A connection holds a `Lease` while it is open; releasing it (explicitly, or by dropping the
/// last reference to it) gives the slot back exactly once, so a lease forgotten on some error path
/// cannot leak a slot, and a second release cannot free someone else's.
public final class ConnectionCounter: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    public init() {}

    /// One connection's hold on a slot of its tunnel.
    public final class Lease: Sendable {
        public let tunnel: String
        private let counter: ConnectionCounter
        private let released = NIOLockedValueBox(false)

        init(tunnel: String, counter: ConnectionCounter) {
            self.tunnel = tunnel
            self.counter = counter
        }

        /// Gives the slot back; only the first call counts.
        public func release() {
            let first = released.withLockedValue { done in
                defer { done = true }
                return !done
            }
            if first { counter.give(tunnel) }
        }

        deinit { release() }
    }

    /// A slot of `tunnel` when it holds fewer than `limit` connections (a limit of 0 or less is no
    /// limit: the connection is still counted), else nil and nothing is counted.
    public func acquire(_ tunnel: String, limit: Int) -> Lease? {
        let admitted = counts.withLockedValue { counts in
            let held = counts[tunnel, default: 0]
            if limit > 0, held >= limit { return false }
            counts[tunnel] = held + 1
            return true
        }
        return admitted ? Lease(tunnel: tunnel, counter: self) : nil
    }

    /// How many connections `tunnel` holds now.
    public func count(_ tunnel: String) -> Int {
        counts.withLockedValue { $0[tunnel, default: 0] }
    }

    private func give(_ tunnel: String) {
        counts.withLockedValue { counts in
            let left = counts[tunnel, default: 1] - 1
            counts[tunnel] = left > 0 ? left : nil
        }
    }
}
