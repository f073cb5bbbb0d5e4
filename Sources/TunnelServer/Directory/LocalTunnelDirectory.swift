import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import TunnelProtocol

/// The relay's own `TunnelDirectory`, in memory: which agent sessions serve which tunnel IDs, and
/// which hostnames lead to which tunnel. Shared by the agent endpoint (which claims) and the public
/// entrypoints (which look up), hence a lock; it guards only dictionary operations.
public final class LocalTunnelDirectory: TunnelDirectory {
    /// One session serving a tunnel, with its share of new streams.
    struct Member {
        var session: MuxSession
        /// 1–254: a share of new streams; 255: exclusive (as in GOST: while such a session is
        /// live, the others get no new streams).
        var weight: Int
        /// Smooth weighted round-robin's running score.
        var current = 0
    }

    static let exclusiveWeight = TunnelMessages.TunnelClaim.exclusiveWeight

    private struct State {
        var sessions: [String: [Member]] = [:]
        var next: [String: Int] = [:]
        var ingress = Ingress()
        var options = HostTable<RuleOptions>()
        /// Path-prefix rules by hostname pattern, longest prefix first.
        var locations = HostTable<[LocationRule]>()
        /// Each tunnel's own visitor policies (its token's, then its agent's), from its last claim.
        var tunnelPolicies: [String: [VisitorPolicy]] = [:]
        /// Rules from the config, kept so agent-claimed ones can be withdrawn without losing them.
        var staticRules: [(String, String)] = []
        /// Host keys of the static rules the admin API added.
        var runtimeRules: Set<String> = []
        /// Rules for tunnels held by other relays of the cluster: host key → (pattern, tunnel).
        var clusterRules: [String: (String, String)] = [:]
    }

    private let state: NIOLockedValueBox<State>
    private let observers = NIOLockedValueBox<[@Sendable ([String]) -> Void]>([])
    private let tunnelObservers = NIOLockedValueBox<[@Sendable (String) -> Void]>([])
    /// Sessions of tunnels held by other relays (the cluster), asked when none is here.
    private let remote = NIOLockedValueBox<(any RemoteTunnels)?>(nil)
    /// Every agent session, registered or not (to drain them all at shutdown or on `POST /api/drain`).
    public let agents = LiveSessions()

    public init(rules: [(String, String)] = []) {
        var s = State()
        s.staticRules = rules
        s.ingress = Ingress(rules: rules)
        state = NIOLockedValueBox(s)
    }

    /// Adds `session` as a server of `tunnel`, plus the hostnames it claims. Several sessions may
    /// serve one tunnel; they share its streams. Nothing is replaced.
    public func claim(_ session: MuxSession, tunnel: String, hostnames: [String], weight: Int) {
        state.withLockedValue { s in
            s.sessions[tunnel, default: []].append(Member(session: session, weight: min(max(weight, 1), Self.exclusiveWeight)))
            for h in hostnames {
                s.ingress.set(h, to: tunnel)
                s.clusterRules[ClaimOwners.hostKey(h)] = nil
            }
        }
        notify(hostnames)
        notifyTunnel(tunnel)
    }

    /// Calls `observer` with a tunnel's ID whenever its sessions or policies here change (the
    /// cluster records what this relay holds).
    public func observeTunnels(_ observer: @escaping @Sendable (String) -> Void) {
        tunnelObservers.withLockedValue { $0.append(observer) }
    }

    private func notifyTunnel(_ tunnel: String) {
        for observer in tunnelObservers.withLockedValue({ $0 }) { observer(tunnel) }
    }

    /// Where sessions of tunnels that have none here are found (the cluster's other relays).
    public func attach(remote: any RemoteTunnels) {
        self.remote.withLockedValue { $0 = remote }
    }

    public func observeHostnames(_ observer: @escaping @Sendable ([String]) -> Void) {
        observers.withLockedValue { $0.append(observer) }
    }

    /// Outside the state's lock: an observer may look things up here.
    private func notify(_ hostnames: [String]) {
        guard !hostnames.isEmpty else { return }
        for observer in observers.withLockedValue({ $0 }) { observer(hostnames) }
    }

    /// Adds a configured ingress rule (hostname pattern → tunnel ID).
    public func addRule(_ host: String, tunnel: String) {
        state.withLockedValue { s in
            let key = ClaimOwners.hostKey(host)
            if !s.staticRules.contains(where: { ClaimOwners.hostKey($0.0) == key && $0.1 == tunnel }) { s.staticRules.append((host, tunnel)) }
            s.ingress.set(host, to: tunnel)
        }
        notify([host])
    }

    /// Removes `session` from every tunnel it served (its connection ended). Returns the tunnels
    /// that have no session left.
    @discardableResult
    public func withdraw(_ session: MuxSession) -> [String] {
        let (served, emptied) = state.withLockedValue { s -> ([String], [String]) in
            var served: [String] = []
            var emptied: [String] = []
            for (id, list) in s.sessions where list.contains(where: { $0.session === session }) {
                let remaining = list.filter { $0.session !== session }
                s.sessions[id] = remaining.isEmpty ? nil : remaining
                served.append(id)
                if remaining.isEmpty { emptied.append(id) }
            }
            return (served, emptied)
        }
        for tunnel in served { notifyTunnel(tunnel) }
        return emptied
    }

    /// The tunnel a public hostname routes to.
    public func tunnel(forHost host: String) -> String? {
        state.withLockedValue { $0.ingress.lookup(host) }
    }

    public func setOptions(_ options: RuleOptions, forPattern pattern: String) {
        state.withLockedValue { $0.options.set(pattern, to: options.isEmpty ? nil : options) }
    }

    public func options(forHost host: String) -> RuleOptions? {
        state.withLockedValue { $0.options.lookup(host) }
    }

    public func addLocation(_ host: String, prefix: String, tunnel: String, policy: VisitorPolicy?) {
        state.withLockedValue { s in
            var list = s.locations.value(forPattern: host) ?? []
            list.append(LocationRule(prefix: prefix, tunnel: tunnel, policy: policy))
            list.sort { $0.prefix.count > $1.prefix.count }
            s.locations.set(host, to: list)
            s.staticRules.append((host, tunnel))
        }
        notify([host])
    }

    public func route(host: String, path: String?) -> IngressRoute? {
        state.withLockedValue { s in
            if let path, let locations = s.locations.lookup(host), let match = locations.first(where: { $0.matches(path) }) {
                return IngressRoute(tunnel: match.tunnel, policy: match.policy, tunnelPolicies: s.tunnelPolicies[match.tunnel] ?? [])
            }
            guard let tunnel = s.ingress.lookup(host) else { return nil }
            return IngressRoute(tunnel: tunnel, policy: s.options.lookup(host)?.policy, tunnelPolicies: s.tunnelPolicies[tunnel] ?? [])
        }
    }

    public func setPolicies(_ policies: [VisitorPolicy], forTunnel tunnel: String) {
        defer { notifyTunnel(tunnel) }
        state.withLockedValue { $0.tunnelPolicies[tunnel] = policies.isEmpty ? nil : policies }
    }

    public func policies(forTunnel tunnel: String) -> [VisitorPolicy] {
        state.withLockedValue { $0.tunnelPolicies[tunnel] ?? [] }
    }

    /// A live session of `tunnel` (not closed, not going away) for a new stream, nil when none.
    ///
    /// With equal weights (the default) the one with the fewest open streams wins, ties
    /// round-robin, so long streams spread evenly. With different weights new streams are shared
    /// in proportion to them (smooth weighted round-robin, as nginx does: a 3:1 split is exact
    /// over every four streams, whatever their length). Weight 255 is exclusive: while such a
    /// session is live, only those are chosen.
    ///
    /// `near` is the event loop of the public connection: with equal weights a session on that
    /// loop is preferred, so the connection and its stream exchange bytes without hopping between
    /// threads (an agent with `--sessions` ≥ the relay's loop count gets one on every loop).
    /// `excluding` names sessions already tried (an open that failed), so a retry finds another.
    ///
    /// With none here, a session to another relay of the cluster that holds the tunnel (one hop).
    public func session(for tunnel: String, near loop: EventLoop?, excluding: [ObjectIdentifier]) -> MuxSession? {
        if let local = localSession(for: tunnel, near: loop, excluding: excluding) { return local }
        return remote.withLockedValue { $0 }?.session(for: tunnel, excluding: excluding)
    }

    /// A session of `tunnel` on this relay only (what a visitor carried here from another relay
    /// gets: never a second hop).
    public func localSession(for tunnel: String, near loop: EventLoop?, excluding: [ObjectIdentifier]) -> MuxSession? {
        state.withLockedValue { s in
            guard var list = s.sessions[tunnel] else { return nil }
            var live = list.indices.filter {
                !list[$0].session.isClosed && !list[$0].session.isGoingAway && !excluding.contains(ObjectIdentifier(list[$0].session))
            }
            guard !live.isEmpty else { return nil }
            if live.contains(where: { list[$0].weight == Self.exclusiveWeight }) {
                live = live.filter { list[$0].weight == Self.exclusiveWeight }
            }
            let weight = list[live[0]].weight
            if live.contains(where: { list[$0].weight != weight }) {
                var total = 0
                var best = live[0]
                for i in live {
                    list[i].current += list[i].weight
                    total += list[i].weight
                    if list[i].current > list[best].current { best = i }
                }
                list[best].current -= total
                s.sessions[tunnel] = list
                return list[best].session
            }
            if let loop {
                let local = live.filter { list[$0].session.eventLoop === loop }
                if !local.isEmpty { live = local }
            }
            let n = s.next[tunnel, default: 0]
            s.next[tunnel] = n &+ 1
            let start = n % live.count
            var best = list[live[start]].session
            var bestCount = best.openStreamCount
            for k in 1..<max(live.count, 1) {
                let candidate = list[live[(start + k) % live.count]].session
                let count = candidate.openStreamCount
                if count < bestCount {
                    best = candidate
                    bestCount = count
                }
            }
            return best
        }
    }

    /// The tunnel a configured rule (not an agent's claim) routes exactly this pattern to, if it
    /// is not `tunnel`: agents never re-point the operator's own rules.
    public func staticConflict(_ pattern: String, tunnel: String) -> String? {
        let key = ClaimOwners.hostKey(pattern)
        return state.withLockedValue { s in
            s.staticRules.first { ClaimOwners.hostKey($0.0) == key && $0.1 != tunnel }?.1
        }
    }

    public func claimsUnavailable() -> String? {
        remote.withLockedValue { $0 }?.claimsUnavailable()
    }

    /// Whether any rule or session knows `tunnel` (to tell "offline" from "unknown").
    public func isKnown(_ tunnel: String) -> Bool {
        state.withLockedValue { s in s.sessions[tunnel] != nil || s.staticRules.contains { $0.1 == tunnel } }
            || remote.withLockedValue { $0 }?.knows(tunnel) == true
    }

    public func snapshot() -> DirectorySnapshot {
        state.withLockedValue { s in
            let configured = Set(s.staticRules.map { "\(ClaimOwners.hostKey($0.0))\u{0}\($0.1)" })
            let tunnels = s.sessions.keys.sorted().map { id in
                DirectorySnapshot.Tunnel(id: id, sessions: (s.sessions[id] ?? []).map { SessionSnapshot($0.session, weight: $0.weight) })
            }
            let rules = s.ingress.rules.map { rule in
                let key = ClaimOwners.hostKey(rule.hostname)
                let isStatic = configured.contains("\(key)\u{0}\(rule.tunnel)")
                let source: DirectorySnapshot.Rule.Source =
                    s.clusterRules[key]?.1 == rule.tunnel && !isStatic ? .cluster : !isStatic ? .agent : s.runtimeRules.contains(key) ? .api : .config
                return DirectorySnapshot.Rule(hostname: rule.hostname, tunnel: rule.tunnel, configured: isStatic, source: source)
            }
            return DirectorySnapshot(tunnels: tunnels, rules: rules)
        }
    }

    /// The sessions serving `tunnel` now.
    public func sessions(of tunnel: String) -> [MuxSession] {
        state.withLockedValue { $0.sessions[tunnel]?.map(\.session) ?? [] }
    }

    /// Drops every rule the config gave (with its options and path prefixes), before a reload
    /// puts the new config's rules in force; agents' claims and rules the admin API added stay.
    public func clearConfigured() {
        state.withLockedValue { s in
            let runtime = s.runtimeRules
            for (host, _) in s.staticRules where !runtime.contains(ClaimOwners.hostKey(host)) {
                s.ingress.remove(pattern: host)
                s.options.set(host, to: nil)
                s.locations.set(host, to: nil)
            }
            s.staticRules.removeAll { !runtime.contains(ClaimOwners.hostKey($0.0)) }
        }
    }

    /// Adds a rule at run time (the admin API). Refused, with the reason, when exactly this
    /// pattern already routes somewhere: a rule is removed first, never overwritten unseen.
    public func addRuntimeRule(_ host: String, tunnel: String) -> String? {
        let refusal: String? = state.withLockedValue { s in
            if let current = s.ingress.tunnel(forPattern: host) { return "\(host) already routes to tunnel \(current)" }
            s.staticRules.append((host, tunnel))
            s.runtimeRules.insert(ClaimOwners.hostKey(host))
            s.ingress.set(host, to: tunnel)
            return nil
        }
        if refusal == nil { notify([host]) }
        return refusal
    }

    /// Removes the rule for exactly `host` (configured, added at run time, or claimed by an
    /// agent, whose claim then stops routing until it registers again). Whether there was one.
    public func removeRule(_ host: String) -> Bool {
        let key = ClaimOwners.hostKey(host)
        return state.withLockedValue { s in
            guard s.ingress.tunnel(forPattern: host) != nil else { return false }
            s.ingress.remove(pattern: host)
            s.staticRules.removeAll { ClaimOwners.hostKey($0.0) == key }
            s.runtimeRules.remove(key)
            s.options.set(host, to: nil)
            s.locations.set(host, to: nil)
            return true
        }
    }

    // MARK: Cluster

    /// What this relay holds of `tunnel`, for its cluster record: the hostnames routed to it here
    /// (claimed or configured, not learnt from the cluster), its live sessions and their weights,
    /// and whether a visitor policy applies to it. Nil when it has no session here.
    func localHolding(of tunnel: String) -> (hostnames: [String], sessions: Int, weight: Int, policy: Bool)? {
        state.withLockedValue { s in
            let live = (s.sessions[tunnel] ?? []).filter { !$0.session.isClosed }
            guard !live.isEmpty else { return nil }
            let hosts = s.ingress.rules.filter { $0.tunnel == tunnel && s.clusterRules[ClaimOwners.hostKey($0.hostname)] == nil }.map(\.hostname).sorted()
            let policy = !(s.tunnelPolicies[tunnel] ?? []).isEmpty
            return (hosts, live.count, live.reduce(0) { $0 + $1.weight }, policy)
        }
    }

    /// Makes the rules learnt from the cluster exactly `rules` (pattern → tunnel): a pattern
    /// that already routes here (configured, claimed, added by the API) is left as it is; one
    /// learnt before and gone from the cluster stops routing.
    public func setClusterRules(_ rules: [String: String]) {
        state.withLockedValue { s in
            let wanted = Dictionary(rules.map { (ClaimOwners.hostKey($0.key), ($0.key, $0.value)) }) { a, _ in a }
            for (key, (pattern, tunnel)) in s.clusterRules where wanted[key]?.1 != tunnel {
                if s.ingress.tunnel(forPattern: pattern) == tunnel { s.ingress.remove(pattern: pattern) }
                s.clusterRules[key] = nil
            }
            for (key, (pattern, tunnel)) in wanted where s.clusterRules[key] == nil {
                guard s.ingress.tunnel(forPattern: pattern) == nil else { continue }
                s.ingress.set(pattern, to: tunnel)
                s.clusterRules[key] = (pattern, tunnel)
            }
        }
    }
}
