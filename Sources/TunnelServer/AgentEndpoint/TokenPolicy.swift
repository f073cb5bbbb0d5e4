import Foundation
import NIOConcurrencyHelpers
import Shared
import TunnelProtocol
import Yams

/// The relay's one decision point for agents: which token may register which tunnels, hostnames and
/// ports, and whether another token already holds them (`ClaimOwners`). Checked on every
/// registration; streams are only ever opened by the relay, towards sessions that passed it. With
/// no tokens at all the relay is open, as GOST's default is.
public struct TokenPolicy: Sendable {
    public var rights: [String: TokenRights]
    /// Who holds which tunnel and port: the first token to claim one keeps it while it exists.
    public var owners: ClaimOwners
    /// What the tokens file left out (a token without `tunnels:` admits no agent), for the log.
    public var warnings: [String] = []

    public init(rights: [String: TokenRights] = [:], owners: ClaimOwners = ClaimOwners()) {
        self.rights = rights
        self.owners = owners
    }

    public var isOpen: Bool { rights.isEmpty }

    /// The name a token is known by in the owners table: a digest, so the table (which may be
    /// written to the state directory) never holds a secret. An open relay has one principal, and
    /// so have the operator's own keys (the generated token, `metadata.tokens`, `auth`) together.
    func principal(of token: String) -> String {
        if isOpen { return "open" }
        if let r = Self.lookup(token, in: rights), r.isFull { return "operator" }
        return ClaimOwners.principal(of: token)
    }

    /// The principals this policy admits, for the owners table (an owner outside every service's
    /// set is void).
    public var principals: Set<String> {
        if isOpen { return ["open"] }
        return Set(rights.map { $0.value.isFull ? "operator" : ClaimOwners.principal(of: $0.key) })
    }

    /// nil when `hello` is allowed; otherwise the precise reason, for the relay's log only (the
    /// agent is told "unauthorized" either way, so nothing can be enumerated). An allowed hello
    /// also takes ownership of the tunnels, hostnames and ports it claims that nobody holds yet.
    public func refusal(for hello: TunnelMessages.Hello) -> String? {
        if hello.tunnels.isEmpty { return "no tunnels claimed" }
        let r: TokenRights
        if isOpen {
            r = .all
        } else {
            guard let found = Self.lookup(hello.token, in: rights) else { return "unknown token" }
            r = found
        }
        var items: [ClaimOwners.Item] = []
        for claim in hello.tunnels {
            if claim.id.hasPrefix(SOCKS5MuxBind.tunnelPrefix) {
                return "tunnel IDs starting \(SOCKS5MuxBind.tunnelPrefix) belong to SOCKS5 mux-bind"
            }
            if !r.allows(tunnel: claim.id) {
                return "tunnel \(claim.id) not allowed for this token"
            }
            if claim.weight == TunnelMessages.TunnelClaim.exclusiveWeight, !isOpen, !r.names(tunnel: claim.id) {
                return "weight 255 (exclusive) of tunnel \(claim.id) needs the token to name that tunnel, not \"*\""
            }
            items.append(.init(.tunnel, claim.id, byName: r.isFull || r.tunnels.contains(claim.id)))
            for host in claim.hostnames ?? [] {
                guard r.hostnames.contains(where: { Self.covers($0, host) }) else {
                    return "hostname \(host) not allowed for this token"
                }
                let key = ClaimOwners.hostKey(host)
                // A wildcard takes every name under it that nobody holds by name: only a token
                // given a wildcard pattern (not just "*") may claim one.
                if key.hasPrefix("*."), !isOpen, !r.isFull, !r.hostnames.contains(where: { $0 != "*" && Self.covers($0, host) }) {
                    return "wildcard \(host) needs a wildcard pattern in the token's hostnames, not \"*\""
                }
                // An exact name written in several tokens is theirs to share; a wildcard written
                // in several (a pool of subdomains) is not: each may claim names under it, and
                // the first to claim the wildcard itself holds it.
                let named = !key.hasPrefix("*.") && r.hostnames.contains { ClaimOwners.hostKey($0) == key }
                items.append(.init(.hostname, host, byName: r.isFull || named))
            }
            for (kind, list) in [("tcp", claim.ports ?? []), ("udp", claim.udpPorts ?? [])] {
                for port in list {
                    guard r.ports.contains(where: { $0.contains(port) }) else { return "port \(port) not allowed for this token" }
                    items.append(.init(.port, "\(kind)/\(port)", byName: r.isFull || r.ports.contains(port...port)))
                }
            }
        }
        return owners.claim(items, by: principal(of: hello.token))
    }

    /// Each claimed tunnel's own visitor policies, compiled for it (a budget or a connection count
    /// is per tunnel): the token's `policy:`, then the agent's claim where the token allows one.
    /// Throws, with the reason for the agent, when the claim asks for a policy its token does not
    /// allow or one that is malformed. Call after `refusal(for:)` accepted `hello`.
    func visitorPolicies(for hello: TunnelMessages.Hello) throws -> [String: [VisitorPolicy]] {
        let r = isOpen ? TokenRights.all : (Self.lookup(hello.token, in: rights) ?? TokenRights())
        var out: [String: [VisitorPolicy]] = [:]
        for claim in hello.tunnels {
            var layers: [VisitorPolicy] = []
            if let p = r.policy, !p.isEmpty {
                layers.append(try VisitorPolicy(p, label: "tunnel \(claim.id)", path: "tokens.policy"))
            }
            if let p = claim.policy, !p.isEmpty {
                guard r.agentPolicy else {
                    throw ConfigError(path: "tunnels[\(claim.id)].policy", reason: "this token may not set a visitor policy (the relay's tokens file grants it with agentPolicy: true)")
                }
                layers.append(try VisitorPolicy(p, label: "tunnel \(claim.id) (agent)", path: "tunnels[\(claim.id)].policy", trusted: false))
            }
            out[claim.id] = layers
        }
        return out
    }

    /// Constant-time token comparison, so response timing does not reveal a prefix.
    static func lookup(_ token: String, in rights: [String: TokenRights]) -> TokenRights? {
        var match: TokenRights?
        let given = Array(token.utf8)
        for (candidate, r) in rights where ConstantTime.equal(Array(candidate.utf8), given) { match = r }
        return match
    }

    /// Whether pattern `p` allows claiming `host` (itself a name or a wildcard pattern).
    static func covers(_ p: String, _ host: String) -> Bool {
        let pattern = Ingress.normalize(p)
        var claim = Ingress.normalize(host)
        if pattern == "*" { return true }
        if pattern == claim { return true }
        let suffix = pattern.hasPrefix("*.") ? String(pattern.dropFirst(2)) : pattern.hasPrefix(".") ? String(pattern.dropFirst()) : nil
        guard let suffix else { return false }
        if claim.hasPrefix("*.") { claim = String(claim.dropFirst(2)) } else if claim.hasPrefix(".") { claim = String(claim.dropFirst()) }
        return claim == suffix || claim.hasSuffix("." + suffix)
    }

    /// Reads a tokens file:
    /// ```yaml
    /// tokens:
    /// - token: s3cret
    ///   tunnels: ["*"]
    ///   hostnames: ["*.example.com"]
    ///   ports: ["20000-20100", "30000"]
    /// ```
    /// A key left out grants nothing of its kind (reported in `warnings` for `tunnels`, without
    /// which the token is useless); `"*"` grants any.
    public static func load(path: String) throws -> TokenPolicy {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError(path: path, reason: "cannot read file") }
        // Strict like the main config (`ConfigLoader.decode`): `CaseIterable` keys, unknown ones refused.
        struct File: Decodable {
            var tokens: [Entry]
            enum CodingKeys: String, CodingKey, CaseIterable { case tokens }
        }
        struct Entry: Decodable {
            var token: String
            var tunnels: [String]?
            var hostnames: [String]?
            var ports: [String]?
            var policy: VisitorPolicyConfig?
            var agentPolicy: Bool?
            enum CodingKeys: String, CodingKey, CaseIterable { case token, tunnels, hostnames, ports, policy, agentPolicy }
        }
        let file: File
        do {
            file = try ConfigLoader.decode(File.self, from: String(decoding: data, as: UTF8.self), source: path)
        } catch let error as ConfigError {
            throw ConfigError(path: error.path == path ? path : "\(path): \(error.path)", reason: error.reason)
        }
        // No tokens would mean an open relay (GOST's default without auth): never by accident.
        guard !file.tokens.isEmpty else { throw ConfigError(path: "\(path): tokens", reason: "a tokens file needs at least one token") }
        var rights: [String: TokenRights] = [:]
        var warnings: [String] = []
        for (i, e) in file.tokens.enumerated() {
            guard !e.token.isEmpty else { throw ConfigError(path: "\(path): tokens[\(i)].token", reason: "empty token") }
            var ranges: [ClosedRange<Int>]?
            if let ports = e.ports {
                ranges = try ports.enumerated().map { j, text in
                    if text.trimmingCharacters(in: .whitespaces) == "*" { return 1...65535 }
                    let parts = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard (parts.count == 1 || parts.count == 2), parts.allSatisfy({ (1...65535).contains($0) }), parts.first! <= parts.last! else {
                        throw ConfigError(path: "\(path): tokens[\(i)].ports[\(j)]", reason: "expected a port, low-high or \"*\", got \"\(text)\"")
                    }
                    return parts.first!...parts.last!
                }
            }
            if let p = e.policy {
                // Checked now, so a mistake is reported at start with its path, not at a claim.
                let compiled = try VisitorPolicy(p, label: "token \(i)", path: "\(path): tokens[\(i)].policy")
                warnings += compiled.warnings
            }
            rights[e.token] = TokenRights(
                tunnels: e.tunnels ?? [], hostnames: e.hostnames ?? [], ports: ranges ?? [], policy: e.policy, agentPolicy: e.agentPolicy ?? false)
            if e.tunnels == nil {
                warnings.append("\(path): tokens[\(i)]: no tunnels: key, so this token admits no agent (list tunnel IDs, or [\"*\"] for any)")
            }
            if e.hostnames == nil {
                warnings.append("\(path): tokens[\(i)]: no hostnames: key, so this token claims no hostname (list patterns, or [\"*\"] for any name)")
            }
            if e.ports == nil {
                warnings.append("\(path): tokens[\(i)]: no ports: key, so this token opens no port (list ports or ranges, or [\"*\"])")
            }
        }
        var policy = TokenPolicy(rights: rights)
        policy.warnings = warnings
        return policy
    }
}
