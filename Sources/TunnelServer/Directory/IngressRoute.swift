/// Where one visitor's request or connection goes: the tunnel, and the visitor policies that apply
/// to it, which `VisitorGate` checks before any stream is opened.
public struct IngressRoute: Equatable, Sendable {
    public var tunnel: String
    /// The policy of the rule that matched (its `policy:`), if any.
    var policy: VisitorPolicy?
    /// The tunnel's own: its token's `policy:` in the relay's tokens file, then the agent's claim
    /// (where its token allows one).
    var tunnelPolicies: [VisitorPolicy] = []

    init(tunnel: String, policy: VisitorPolicy? = nil, tunnelPolicies: [VisitorPolicy] = []) {
        self.tunnel = tunnel
        self.policy = policy
        self.tunnelPolicies = tunnelPolicies
    }

    /// Every policy that applies, the relay's own first (rule, then token), the agent's last: a
    /// visitor must pass them all, and where only one can decide (credentials, header values) the
    /// first that has a say does, so an agent can add to the operator's policy but never loosen it.
    var layers: [VisitorPolicy] {
        guard let policy else { return tunnelPolicies }
        return [policy] + tunnelPolicies
    }
}

extension [VisitorPolicy] {
    /// The first layer's own page for `status`, if one has it.
    func errorPage(_ status: Int) -> String? {
        lazy.compactMap { $0.errorPages[status] }.first
    }

    /// The bandwidth budgets that pace a connection under these layers.
    var budgets: [BandwidthBudget] { compactMap(\.bandwidth) }
}

/// One path-prefix rule of a hostname (frp's `locations`).
struct LocationRule: Equatable, Sendable {
    /// `/api/`: matches `/api/` and below; `/api` also matches `/api` itself and `/api/…`, not `/apix`.
    var prefix: String
    var tunnel: String
    var policy: VisitorPolicy?

    func matches(_ path: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") || path.count == prefix.count { return true }
        return path[path.index(path.startIndex, offsetBy: prefix.count)] == "/"
    }
}
