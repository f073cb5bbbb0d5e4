/// What a relay records in etcd for a tunnel that has agent sessions on it
/// (`<prefix>tunnels/<tunnel>/<relay-id>`, on the relay's lease): enough for another relay to
/// route the tunnel's hostnames and pick a relay to carry a visitor to.
public struct TunnelRecord: Codable, Sendable, Equatable {
    /// The relay holding the sessions.
    public var relay: String
    /// The hostnames the agents claimed (and the relay's config routes) for the tunnel.
    public var hostnames: [String]
    /// Live agent sessions of the tunnel on that relay.
    public var sessions: Int
    /// The sum of their weights (what the relay is worth for new streams, against the others).
    public var weight: Int
    /// Whether a visitor policy applies to the tunnel (its token's or its agent's). Such a tunnel
    /// is served only by relays that can enforce the same policy, so until policies travel with
    /// the record, only at the relay that holds it (never by going around it).
    public var policy: Bool

    public init(relay: String, hostnames: [String], sessions: Int, weight: Int, policy: Bool) {
        self.relay = relay
        self.hostnames = hostnames
        self.sessions = sessions
        self.weight = weight
        self.policy = policy
    }
}
