import Mux
import NIOCore
import TunnelProtocol

/// Which agent sessions serve which tunnel, and which hostnames lead to which tunnel: what the
/// agent endpoint writes (claim, withdraw) and the entrypoints read (look up).
///
/// Why a protocol: today one relay keeps this in its own memory (`LocalTunnelDirectory`); when
/// several relays share one etcd, a directory backed by it answers the same questions (a tunnel
/// whose sessions live on another relay), and nothing that registers or routes has to change.
public protocol TunnelDirectory: AnyObject, Sendable {
    /// Every agent session attached to this relay, registered or not (to drain them all).
    var agents: LiveSessions { get }

    /// Adds `session` as a server of `tunnel`, with the hostnames it claims and its share
    /// (`weight`, 1-255; 255 = exclusive) of the tunnel's new streams. Nothing is replaced.
    func claim(_ session: MuxSession, tunnel: String, hostnames: [String], weight: Int)

    /// Removes `session` from every tunnel it served (its connection ended); returns the tunnels
    /// left with no session.
    @discardableResult
    func withdraw(_ session: MuxSession) -> [String]

    /// Adds a configured ingress rule (hostname pattern → tunnel ID).
    func addRule(_ host: String, tunnel: String)

    /// The tunnel a public hostname routes to.
    func tunnel(forHost host: String) -> String?

    /// Calls `observer` with the hostnames of every rule added and every claim accepted from now
    /// on (the ACME manager keeps certificates for them).
    func observeHostnames(_ observer: @escaping @Sendable ([String]) -> Void)

    /// Sets a configured rule's options (TLS mode, certificate files, redirect, HSTS).
    func setOptions(_ options: RuleOptions, forPattern pattern: String)

    /// The options of the rule that matches `host` (exact, then wildcard), nil when none.
    func options(forHost host: String) -> RuleOptions?

    /// Adds a configured path-prefix rule (frp's `locations`): requests for `host` whose path
    /// starts with `prefix` go to `tunnel` under `policy`, ahead of the host's own rule.
    func addLocation(_ host: String, prefix: String, tunnel: String, policy: VisitorPolicy?)

    /// Where an HTTP request for `host` and `path` goes: the longest matching location of the
    /// host's rules, else the host's rule (with its policy); nil when no rule routes it.
    func route(host: String, path: String?) -> IngressRoute?

    /// Sets a tunnel's own visitor policies (its token's, then its agent's), which apply to every
    /// hostname, entrypoint and port that leads to it.
    func setPolicies(_ policies: [VisitorPolicy], forTunnel tunnel: String)

    /// A tunnel's own visitor policies (none: empty).
    func policies(forTunnel tunnel: String) -> [VisitorPolicy]

    /// A live session of `tunnel` for a new stream (preferring one on `near`, never one in
    /// `excluding`), nil when none.
    func session(for tunnel: String, near loop: EventLoop?, excluding: [ObjectIdentifier]) -> MuxSession?

    /// The tunnel a configured rule routes exactly `pattern` to, if it is not `tunnel` (agents
    /// never re-point the operator's rules).
    func staticConflict(_ pattern: String, tunnel: String) -> String?

    /// Whether any rule or session knows `tunnel` (to tell "offline" from "unknown").
    func isKnown(_ tunnel: String) -> Bool

    /// What the directory holds now, for the admin API and the status command.
    func snapshot() -> DirectorySnapshot

    /// Why no claim can be accepted now (a cluster's store that cannot record it), nil when
    /// claims are taken.
    func claimsUnavailable() -> String?
}

extension TunnelDirectory {
    public func claimsUnavailable() -> String? { nil }

    public func session(for tunnel: String, near loop: EventLoop? = nil) -> MuxSession? {
        session(for: tunnel, near: loop, excluding: [])
    }

    public func claim(_ session: MuxSession, tunnel: String, hostnames: [String]) {
        claim(session, tunnel: tunnel, hostnames: hostnames, weight: 1)
    }
}
