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
    /// TCP ports its agents had that relay open (rtcp): every relay opens them too.
    public var ports: [Int]

    public init(relay: String, hostnames: [String], sessions: Int, weight: Int, policy: Bool, ports: [Int] = []) {
        self.relay = relay
        self.hostnames = hostnames
        self.sessions = sessions
        self.weight = weight
        self.policy = policy
        self.ports = ports
    }

    private enum CodingKeys: String, CodingKey { case relay, hostnames, sessions, weight, policy, ports }

    /// `ports` may be missing (a record of a relay that writes none).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        relay = try c.decode(String.self, forKey: .relay)
        hostnames = try c.decode([String].self, forKey: .hostnames)
        sessions = try c.decode(Int.self, forKey: .sessions)
        weight = try c.decode(Int.self, forKey: .weight)
        policy = try c.decode(Bool.self, forKey: .policy)
        ports = try c.decodeIfPresent([Int].self, forKey: .ports) ?? []
    }
}
