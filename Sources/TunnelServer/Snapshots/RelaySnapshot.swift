import Mux
import Shared

/// The relay at one moment: its directory, agent sessions, remote ports and counters, as plain
/// values for the admin API and the status command (read-only: changing the relay goes through
/// the objects that own each part, never through a snapshot).
public struct RelaySnapshot: Sendable, Equatable, Codable {
    /// A port an agent asked the relay to open (rtcp/rudp).
    public struct RemotePort: Sendable, Equatable, Codable {
        public var port: Int
        public var udp: Bool
        public var tunnel: String

        public init(port: Int, udp: Bool, tunnel: String) {
            self.port = port
            self.udp = udp
            self.tunnel = tunnel
        }
    }

    /// Counters that only grow, or gauges, from the parts of the relay.
    public struct Counters: Sendable, Equatable, Codable {
        /// Agent sessions attached now, registered or not.
        public var agentSessions: Int
        /// UDP flows (client addresses of rudp ports) alive now.
        public var udpFlows: Int
        /// Datagrams dropped because the session that sent them does not own their flow.
        public var refusedDatagrams: Int

        public init(agentSessions: Int, udpFlows: Int, refusedDatagrams: Int) {
            self.agentSessions = agentSessions
            self.udpFlows = udpFlows
            self.refusedDatagrams = refusedDatagrams
        }
    }

    /// Every agent session, by peer address.
    public var agents: [SessionSnapshot]
    public var directory: DirectorySnapshot
    /// Open remote ports, by port then protocol.
    public var remotePorts: [RemotePort]
    public var counters: Counters

    public init(agents: [SessionSnapshot] = [], directory: DirectorySnapshot, remotePorts: [RemotePort], counters: Counters) {
        self.agents = agents
        self.directory = directory
        self.remotePorts = remotePorts
        self.counters = counters
    }

    /// Takes a snapshot of the relay made of `directory` and `ports` (nil: no remote ports).
    public static func capture(directory: any TunnelDirectory, ports: RemotePorts?) -> RelaySnapshot {
        let agents = directory.agents.all.map { SessionSnapshot($0) }.sorted { ($0.peer ?? "") < ($1.peer ?? "") }
        return RelaySnapshot(
            agents: agents,
            directory: directory.snapshot(),
            remotePorts: ports?.snapshot() ?? [],
            counters: Counters(agentSessions: directory.agents.count, udpFlows: ports?.flows.count ?? 0, refusedDatagrams: ports?.flows.refusedDatagrams ?? 0))
    }
}
