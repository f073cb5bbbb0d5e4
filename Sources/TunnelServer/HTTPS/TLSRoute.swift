/// Where a TLS connection on a public port goes, decided from its ClientHello alone (before any
/// handshake), so the relay can serve agents, ACME validations, its own certificates and
/// passthrough tunnels on one port 443.
///
/// The order, and why:
/// 1. The agents' ALPN (`TunnelMessages.agentALPN`) → the agent endpoint. No browser or HTTP
///    client offers it, so it cannot take a visitor; and it comes before any hostname rule, so an
///    agent attaches whatever name it dialled (a CDN's, an IP address).
/// 2. `acme-tls/1` with a challenge certificate pending for the name → the challenge handshake
///    (RFC 8737: the ACME server offers only that ID).
/// 3. A name whose rule says `passthrough` → the tunnel, untouched.
/// 4. A name the relay holds a certificate for → TLS terminated here (a rule that says
///    `terminate` and has no certificate yet is refused rather than passed through).
/// 5. A name routed to a tunnel → passed through (as before the relay had certificates).
/// 6. The relay's own name (`--advertise`), offered no ALPN of a visitor → the agent endpoint,
///    for agents that do not send ALPN.
/// 7. Anything else is refused with `unrecognized_name`.
enum TLSRoute: Equatable, Sendable {
    case agent
    case acmeChallenge(serverName: String)
    case terminate(serverName: String)
    case passthrough(tunnel: String, serverName: String)
    case refuse(reason: String)

    static let acmeALPN = "acme-tls/1"

    /// What the decision needs to know about the relay, as functions of the server name.
    struct Facts {
        var agentALPN: String
        var hasAgentEndpoint: Bool
        var relayNames: Set<String> = []
        var hasChallenge: (String) -> Bool = { _ in false }
        var hasCertificate: (String) -> Bool = { _ in false }
        var mode: (String) -> RuleOptions.TLSMode? = { _ in nil }
        var tunnel: (String) -> String? = { _ in nil }
    }

    static func decide(_ hello: ClientHello.Info, _ facts: Facts) -> TLSRoute {
        if facts.hasAgentEndpoint, hello.alpn.contains(facts.agentALPN) { return .agent }
        guard let name = hello.serverName.map({ HostTable<String>.normalize($0) }), !name.isEmpty else {
            return .refuse(reason: "no server name (SNI) in the ClientHello")
        }
        if hello.alpn.contains(acmeALPN) {
            return facts.hasChallenge(name) ? .acmeChallenge(serverName: name) : .refuse(reason: "no ACME challenge pending for \(name)")
        }
        let mode = facts.mode(name)
        if mode != .passthrough, facts.hasCertificate(name) { return .terminate(serverName: name) }
        if mode == .terminate { return .refuse(reason: "no certificate for \(name) yet") }
        if let tunnel = facts.tunnel(name) { return .passthrough(tunnel: tunnel, serverName: name) }
        if facts.hasAgentEndpoint, facts.relayNames.contains(name), !hello.alpn.contains(where: { $0 == "h2" || $0 == "http/1.1" }) {
            return .agent
        }
        return .refuse(reason: "no tunnel for \(name)")
    }
}
