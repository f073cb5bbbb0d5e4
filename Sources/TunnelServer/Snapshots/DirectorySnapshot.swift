/// What a `TunnelDirectory` holds at one moment: tunnels with the sessions serving them, and the
/// ingress rules. Plain values (`Codable`), so the admin API and the status command can show them
/// without reaching into live objects or holding the directory's lock.
public struct DirectorySnapshot: Sendable, Equatable, Codable {
    /// A tunnel ID and the sessions serving it now.
    public struct Tunnel: Sendable, Equatable, Codable {
        public var id: String
        public var sessions: [SessionSnapshot]

        public init(id: String, sessions: [SessionSnapshot]) {
            self.id = id
            self.sessions = sessions
        }
    }

    /// A hostname pattern and its tunnel; `configured` rules come from the operator's config,
    /// the others from agents' claims.
    public struct Rule: Sendable, Equatable, Codable {
        /// Where a rule comes from.
        public enum Source: String, Sendable, Codable {
            case config, agent, api, cluster
        }

        public var hostname: String
        public var tunnel: String
        public var configured: Bool
        public var source: Source

        public init(hostname: String, tunnel: String, configured: Bool, source: Source? = nil) {
            self.hostname = hostname
            self.tunnel = tunnel
            self.configured = configured
            self.source = source ?? (configured ? .config : .agent)
        }
    }

    /// Tunnels with at least one session, by ID.
    public var tunnels: [Tunnel]
    /// Every rule in force, by hostname.
    public var rules: [Rule]

    public init(tunnels: [Tunnel] = [], rules: [Rule] = []) {
        self.tunnels = tunnels
        self.rules = rules
    }
}
