import Metrics

/// The agent endpoint's metrics:
///
/// - `tunnel_agent_sessions` (gauge): agent sessions open now (registered or still saying hello).
/// - `tunnel_agent_registrations_total{result}` (counter): hellos and what became of them,
///   `ok`, `refused` (token, claim, policy or port), `malformed` (undecodable, bad weight) or
///   `timeout` (no hello within the registration timeout).
/// - `tunnel_agent_auth_refusals_total{reason}` (counter): agents turned away for who they are:
///   `address_blocked` (too many failed registrations from the address), `unknown_token`,
///   `no_tunnels`, `claim_not_allowed` (a tunnel, hostname or port outside the token's rights, or
///   held by another token), `hostname_conflict` (routed elsewhere by the relay's own config),
///   `mux_bind_claim` (a SOCKS5 mux-bind hello claiming other than what was bound).
///
/// Labels are these fixed words only. Metrics are made when counted (rare events: a registry
/// lookup each is nothing), so none is made before `-metrics` installs the backend.
enum AgentEndpointMetrics {
    enum Registration: String {
        case ok, refused, malformed, timeout
    }

    enum Refusal: String {
        case addressBlocked = "address_blocked"
        case unknownToken = "unknown_token"
        case noTunnels = "no_tunnels"
        case claimNotAllowed = "claim_not_allowed"
        case hostnameConflict = "hostname_conflict"
        case muxBindClaim = "mux_bind_claim"
    }

    static func registered(_ result: Registration) {
        Counter(label: "tunnel_agent_registrations_total", dimensions: [("result", result.rawValue)]).increment()
    }

    static func refused(_ reason: Refusal) {
        Counter(label: "tunnel_agent_auth_refusals_total", dimensions: [("reason", reason.rawValue)]).increment()
    }

    /// The gauge of open sessions.
    static func sessions() -> Meter {
        Meter(label: "tunnel_agent_sessions")
    }

    /// The reason `TokenPolicy.refusal(for:)` gave, as a label.
    static func reason(ofPolicyRefusal text: String) -> Refusal {
        switch text {
        case "unknown token": .unknownToken
        case "no tunnels claimed": .noTunnels
        default: .claimNotAllowed
        }
    }
}
