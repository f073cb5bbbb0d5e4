import Mux

/// Sessions of tunnels held by other relays (in a cluster: a pooled session to a relay that has
/// the tunnel's agents). The local directory asks it only when it has none of its own.
public protocol RemoteTunnels: Sendable {
    /// A session that carries a new stream of `tunnel` to a relay holding it, nil when none is
    /// ready (never one in `excluding`).
    func session(for tunnel: String, excluding: [ObjectIdentifier]) -> MuxSession?

    /// Whether some other relay holds `tunnel` now.
    func knows(_ tunnel: String) -> Bool

    /// Why this relay cannot record a new claim where the others see it (nil: it can).
    func claimsUnavailable() -> String?
}
