/// What a `TunnelDirectory` holds at one moment: tunnels with the sessions serving them, and the
/// ingress rules. Plain values (`Codable`), so the admin API and the status command can show them
/// without reaching into live objects or holding the directory's lock.
public struct DirectorySnapshot: Sendable, Equatable, Codable {
    /// One agent session serving a tunnel.
    public struct Session: Sendable, Equatable, Codable {
        /// The agent's address as the relay sees it.
        public var peer: String?
        /// Its share of the tunnel's new streams (1-255; 255 = exclusive).
        public var weight: Int
        public var openStreams: Int
        /// Smoothed round-trip time of the session's pings, in milliseconds (nil before the first).
        public var rttMilliseconds: Double?
        /// The session is finishing its streams and takes no new ones (GOAWAY).
        public var goingAway: Bool

        public init(peer: String?, weight: Int, openStreams: Int, rttMilliseconds: Double?, goingAway: Bool) {
            self.peer = peer
            self.weight = weight
            self.openStreams = openStreams
            self.rttMilliseconds = rttMilliseconds
            self.goingAway = goingAway
        }
    }

    /// A tunnel ID and the sessions serving it now.
    public struct Tunnel: Sendable, Equatable, Codable {
        public var id: String
        public var sessions: [Session]

        public init(id: String, sessions: [Session]) {
            self.id = id
            self.sessions = sessions
        }
    }

    /// A hostname pattern and its tunnel; `configured` rules come from the operator's config,
    /// the others from agents' claims.
    public struct Rule: Sendable, Equatable, Codable {
        public var hostname: String
        public var tunnel: String
        public var configured: Bool

        public init(hostname: String, tunnel: String, configured: Bool) {
            self.hostname = hostname
            self.tunnel = tunnel
            self.configured = configured
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
