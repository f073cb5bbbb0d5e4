import Etcd
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The keys a relay holds in etcd only while it lives (its member record, later which tunnels
/// have sessions on it), all on one lease of `ttl` seconds that this service keeps alive.
///
/// If the relay dies, etcd drops them within the TTL, so no visitor is routed to a dead relay
/// for longer. If etcd is away longer than the TTL, the lease ends there; when etcd answers
/// again a new lease is granted and every held key written again (the relay catches up by
/// itself). At graceful shutdown the lease is revoked, so the keys go at once.
public final class ClusterLease: Service, Sendable {
    let store: EtcdClient
    let ttl: Int64
    let logger: Logger

    private struct State {
        var lease: Int64 = 0
        var held: [String: [UInt8]] = [:]
        /// A write failed or the lease was lost: write every held key again at the next tick.
        var resync = false
        /// When etcd last renewed (or granted) the lease.
        var renewed: ContinuousClock.Instant?
    }

    private let state = NIOLockedValueBox(State())

    public init(store: EtcdClient, ttl: Int64, logger: Logger) {
        self.store = store
        self.ttl = max(2, ttl)
        self.logger = logger
    }

    /// The current lease (0 while there is none), for tests and the API.
    public var lease: Int64 { state.withLockedValue { $0.lease } }

    /// Whether what this relay holds is in etcd now: a lease renewed within its TTL. While it is
    /// not, new claims are refused (the others could not see them).
    public var isRecording: Bool {
        state.withLockedValue { s in
            guard s.lease != 0, let renewed = s.renewed else { return false }
            return ContinuousClock.now - renewed < .seconds(ttl)
        }
    }

    /// Holds `value` at `key` for as long as this relay lives (written now if a lease is there,
    /// else as soon as one is).
    public func hold(_ key: String, _ value: [UInt8]) async {
        let lease = state.withLockedValue { s -> Int64 in
            s.held[key] = value
            return s.lease
        }
        guard lease != 0 else { return }
        do {
            try await store.put(key, value, lease: lease)
        } catch {
            state.withLockedValue { $0.resync = true }
            logger.debug("cluster write deferred", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    /// Stops holding `key` and removes it.
    public func release(_ key: String) async {
        let had = state.withLockedValue { $0.held.removeValue(forKey: key) != nil }
        guard had else { return }
        do {
            try await store.delete(key)
        } catch {
            // It goes with the lease if the delete did not reach etcd.
            logger.debug("cluster delete deferred to the lease", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    public func run() async throws {
        let interval = Duration.milliseconds(ttl * 1000 / 3)
        await cancelWhenGracefulShutdown {
            var backoff = Duration.milliseconds(200)
            while !Task.isCancelled {
                do {
                    try await self.tick()
                    backoff = .milliseconds(200)
                    try? await Task.sleep(for: interval)
                } catch {
                    self.logger.warning("etcd unreachable: keeping what this relay holds locally and trying again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                }
            }
        }
        let lease = state.withLockedValue { s -> Int64 in
            defer { s.lease = 0 }
            return s.lease
        }
        if lease != 0 {
            do {
                try await store.revoke(lease: lease)
                logger.info("left the cluster (lease revoked)")
            } catch {
                logger.warning("could not revoke the cluster lease; its keys go when it expires", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One keep-alive; a new lease and every key written again when the old one is gone.
    func tick() async throws {
        let lease = state.withLockedValue { $0.lease }
        if lease != 0 {
            let left = try await store.keepAlive(lease: lease)
            if left > 0 {
                state.withLockedValue { $0.renewed = .now }
                if state.withLockedValue({ $0.resync }) { try await writeAll(lease) }
                return
            }
            logger.warning("the cluster lease ended (etcd was away longer than its TTL): taking a new one", metadata: ["lease": "\(lease)"])
        }
        let fresh = try await store.grantLease(ttl: ttl)
        state.withLockedValue {
            $0.lease = fresh
            $0.renewed = .now
        }
        try await writeAll(fresh)
    }

    private func writeAll(_ lease: Int64) async throws {
        let held = state.withLockedValue { s -> [String: [UInt8]] in
            s.resync = false
            return s.held
        }
        do {
            for (key, value) in held { try await store.put(key, value, lease: lease) }
            // A key released while this loop wrote it would otherwise stay until the lease ends.
            let released = state.withLockedValue { s in held.keys.filter { s.held[$0] == nil } }
            for key in released { try await store.delete(key) }
        } catch {
            state.withLockedValue { $0.resync = true }
            throw error
        }
    }
}
