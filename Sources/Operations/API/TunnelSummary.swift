/// A tunnel as `GET /tunnels` shows it on the relay and on the agent (the `Tunnel` schema of
/// `InspectorOpenAPI`): the sessions carrying it, its hostnames and its totals.
public struct TunnelSummary: Codable, Sendable, Equatable {
    public var id: String
    public var sessions: [String]
    public var hostnames: [String]
    public var openStreams: Int
    public var streamsTotal: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var requests: [String: Int]

    public init(id: String, sessions: [String], hostnames: [String], totals: TunnelTraffic.Totals) {
        self.id = id
        self.sessions = sessions
        self.hostnames = hostnames
        openStreams = totals.openStreams
        streamsTotal = totals.streamsTotal
        bytesIn = totals.bytesIn
        bytesOut = totals.bytesOut
        requests = totals.requests
    }
}
