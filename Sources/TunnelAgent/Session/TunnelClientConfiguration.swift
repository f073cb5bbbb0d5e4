import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Shared
import TunnelProtocol

/// What an agent needs to reach its relay and serve its tunnels.
public struct TunnelClientConfiguration: Sendable {
    /// One tunnel: its ID, the hostnames to claim, and the local service its streams go to.
    public struct Tunnel: Sendable {
        public var id: String
        public var hostnames: [String]
        public var target: HostPort
        /// Send a PROXY protocol header to the target first, so it sees the public client's address.
        public var proxyProtocol: ProxyProtocol.Version?
        /// TCP ports to open on the relay for this tunnel (rtcp).
        public var remotePorts: [Int]
        /// UDP ports to open on the relay for this tunnel (rudp); the target gets the datagrams.
        public var remoteUDPPorts: [Int]
        /// This agent's share of the tunnel's new streams against other agents of the tunnel,
        /// 1–255; 255 takes them all while it is connected (GOST's exclusive weight).
        public var weight: Int?
        /// What this agent asks of the tunnel's visitors, on top of the relay's own policy (where
        /// its token allows; `--basic-auth`, `--allow`, …).
        public var policy: VisitorPolicyConfig?
        /// Hand each stream to this instead of joining it to `target`: the streams of an `rtcp`
        /// listener go to its service's handler, as a listener's connections do.
        public var accept: (@Sendable (Handshake) async -> Void)?

        public init(id: String, hostnames: [String] = [], target: HostPort, proxyProtocol: ProxyProtocol.Version? = nil, remotePorts: [Int] = [], remoteUDPPorts: [Int] = [], weight: Int? = nil) {
            self.weight = weight
            self.id = id
            self.hostnames = hostnames
            self.target = target
            self.proxyProtocol = proxyProtocol
            self.remotePorts = remotePorts
            self.remoteUDPPorts = remoteUDPPorts
        }
    }

    public var relay: HostPort
    public var dialer: any Dialer
    public var token: String
    public var tunnels: [Tunnel]
    /// Sessions kept open at once (`AgentDefaults.sessions` says why two); the relay prefers a
    /// session on the public connection's event loop.
    public var sessions: Int = AgentDefaults.sessions
    public var maxBackoff: TimeAmount = AgentDefaults.maxBackoff
    public var mux = MuxConfiguration.tunnel
    /// Where sessions, streams and requests are reported for the admin API (`--inspect`, -api);
    /// nil: nothing is reported.
    public var observers: AgentObservers?

    public init(relay: HostPort, dialer: any Dialer, token: String, tunnels: [Tunnel]) {
        self.relay = relay
        self.dialer = dialer
        self.token = token
        self.tunnels = tunnels
    }
}
