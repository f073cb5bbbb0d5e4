import Foundation
import NIOConcurrencyHelpers
import Shared
import TunnelProtocol
import Yams

/// What one agent token may claim. Nothing is implied: a key missing from the tokens file grants
/// nothing of its kind, and "any" is always written out (`"*"`), so a forgotten line can never turn
/// into an unrestricted token.
public struct TokenRights: Sendable, Equatable {
    /// Tunnel IDs it may serve (`"*"`: any).
    public var tunnels: [String]
    /// Hostname patterns it may claim (`app.example.com`, `*.example.com`, `.example.com`, `"*"`).
    public var hostnames: [String]
    /// Port ranges it may ask the relay to open (rtcp/rudp).
    public var ports: [ClosedRange<Int>]
    /// An operator's own key (the generated token, `metadata.tokens`, `auth`): it may do anything,
    /// including taking a tunnel's new streams exclusively (weight 255) without naming the tunnel.
    public var isFull: Bool
    /// The visitor policy of everything this token's agents serve (`policy:` in the tokens file).
    public var policy: VisitorPolicyConfig?
    /// Whether its agents may add a visitor policy of their own to their claims (`agentPolicy:`);
    /// theirs only ever adds to the relay's (`IngressRoute.layers`).
    public var agentPolicy: Bool

    /// Everything, as the relay's own keys have.
    public static let all = TokenRights(tunnels: ["*"], hostnames: ["*"], ports: [1...65535], isFull: true, agentPolicy: true)

    public init(
        tunnels: [String] = [], hostnames: [String] = [], ports: [ClosedRange<Int>] = [], isFull: Bool = false, policy: VisitorPolicyConfig? = nil, agentPolicy: Bool = false
    ) {
        self.tunnels = tunnels
        self.hostnames = hostnames
        self.ports = ports
        self.isFull = isFull
        self.policy = policy
        self.agentPolicy = agentPolicy
    }

    /// Whether the token may serve `tunnel` at all.
    func allows(tunnel: String) -> Bool { tunnels.contains(tunnel) || tunnels.contains("*") }

    /// Whether the token owns `tunnel` outright: named in its list (a `"*"` grant is a shared,
    /// weaker right) or a full-rights key. Only such a token may take the tunnel exclusively.
    func names(tunnel: String) -> Bool { isFull || tunnels.contains(tunnel) }
}
