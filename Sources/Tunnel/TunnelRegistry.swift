import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore

/// The relay's live view: which agent sessions serve which tunnel IDs, and which hostnames lead to
/// which tunnel. Shared by the agent endpoint (which registers) and the public entrypoints (which
/// look up), hence a lock; it guards only dictionary operations.
public final class TunnelRegistry: Sendable {
    private struct State {
        var sessions: [String: [MuxSession]] = [:]
        var next: [String: Int] = [:]
        var ingress = Ingress()
        /// Rules from the config, kept so agent-claimed ones can be withdrawn without losing them.
        var staticRules: [(String, String)] = []
    }

    private let state: NIOLockedValueBox<State>
    /// Every agent session, registered or not (to drain them all on SIGHUP or at shutdown).
    public let agents = LiveSessions()

    public init(rules: [(String, String)] = []) {
        var s = State()
        s.staticRules = rules
        s.ingress = Ingress(rules: rules)
        state = NIOLockedValueBox(s)
    }

    /// Adds `session` as a server of `tunnel`, plus the hostnames it claims. Several sessions may
    /// serve one tunnel; they share its streams. Nothing is replaced.
    public func register(_ session: MuxSession, tunnel: String, hostnames: [String]) {
        state.withLockedValue { s in
            s.sessions[tunnel, default: []].append(session)
            for h in hostnames { s.ingress.set(h, to: tunnel) }
        }
    }

    /// Adds a configured ingress rule (hostname pattern → tunnel ID).
    public func addRule(_ host: String, tunnel: String) {
        state.withLockedValue { s in
            s.staticRules.append((host, tunnel))
            s.ingress.set(host, to: tunnel)
        }
    }

    /// Removes `session` from every tunnel it served (its connection ended). Returns the tunnels
    /// that have no session left.
    @discardableResult
    public func unregister(_ session: MuxSession) -> [String] {
        state.withLockedValue { s in
            var emptied: [String] = []
            for (id, list) in s.sessions where list.contains(where: { $0 === session }) {
                let remaining = list.filter { $0 !== session }
                s.sessions[id] = remaining.isEmpty ? nil : remaining
                if remaining.isEmpty { emptied.append(id) }
            }
            return emptied
        }
    }

    /// The tunnel a public hostname routes to.
    public func tunnel(forHost host: String) -> String? {
        state.withLockedValue { $0.ingress.lookup(host) }
    }

    /// A live session of `tunnel` (not closed, not going away) with the fewest open streams;
    /// ties go round-robin, so idle agents share new streams evenly. nil when it has none.
    public func session(for tunnel: String) -> MuxSession? {
        state.withLockedValue { s in
            guard let list = s.sessions[tunnel] else { return nil }
            let live = list.filter { !$0.isClosed && !$0.isGoingAway }
            guard !live.isEmpty else { return nil }
            let i = s.next[tunnel, default: 0]
            s.next[tunnel] = i &+ 1
            let start = i % live.count
            var best = live[start]
            var bestCount = best.openStreamCount
            for k in 1..<max(live.count, 1) {
                let candidate = live[(start + k) % live.count]
                let count = candidate.openStreamCount
                if count < bestCount {
                    best = candidate
                    bestCount = count
                }
            }
            return best
        }
    }

    /// Whether any rule or session knows `tunnel` (to tell "offline" from "unknown").
    public func isKnown(_ tunnel: String) -> Bool {
        state.withLockedValue { s in s.sessions[tunnel] != nil || s.staticRules.contains { $0.1 == tunnel } }
    }
}
