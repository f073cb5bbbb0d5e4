/// Where one visitor's request or connection goes: the tunnel, and the policy of the rule that
/// matched (its `policy:`), which `VisitorGate` applies before any stream is opened.
public struct IngressRoute: Equatable, Sendable {
    public var tunnel: String
    var policy: VisitorPolicy?

    init(tunnel: String, policy: VisitorPolicy? = nil) {
        self.tunnel = tunnel
        self.policy = policy
    }
}

/// One path-prefix rule of a hostname (frp's `locations`).
struct LocationRule: Equatable, Sendable {
    /// `/api/`: matches `/api/` and below; `/api` also matches `/api` itself and `/api/…`, not `/apix`.
    var prefix: String
    var route: IngressRoute

    func matches(_ path: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") || path.count == prefix.count { return true }
        return path[path.index(path.startIndex, offsetBy: prefix.count)] == "/"
    }
}
