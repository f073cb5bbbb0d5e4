import Logging
import NIOCore
import Shared

/// GOST's remote forwarding listeners, `rtcp` and `rudp`, as listener types of the engine: the
/// service's port is opened on the relay at the end of the listener's chain (a `tunnel` node, or
/// a `socks5` node with `bind=true`), not here.
///
/// `rtcp`: every connection the relay carries to this agent is accepted like a local listener's
/// connection and handed to the service's handler (`rtcp`, which forwards it to the service's
/// forwarder node). `rudp`: the UDP flows of the relay's port are carried by the listener itself to
/// the forwarder node (a flow is a series of datagrams, not a connection a handler could take).
public struct RemoteListener: StreamListener {
    /// The tunnel client that holds the sessions to the relay.
    public let client: TunnelClientConfiguration
    public let udp: Bool

    public init(client: TunnelClientConfiguration, udp: Bool) {
        self.client = client
        self.udp = udp
    }

    /// Runs the tunnel client until the service stops; nothing is bound on this host.
    public func run(
        address: HostPort, group: EventLoopGroup, logger: Logger,
        bound: @escaping @Sendable (SocketAddress) -> Void,
        accept: @escaping @Sendable (Handshake) async -> Void
    ) async throws {
        var configuration = client
        if !udp {
            for i in configuration.tunnels.indices { configuration.tunnels[i].accept = accept }
        }
        try await TunnelClient(configuration: configuration, logger: logger).run()
    }
}

/// The `rudp` service's handler: its flows never reach it (the listener carries them), so it is
/// there for the model's shape and refuses anything handed to it.
struct RemoteUDPHandler: StreamHandler {
    func handle(_ io: Handshake, context: HandlerContext) async throws {
        throw EngineError(.unsupported, "rudp flows are carried by their listener")
    }
}

/// The connector of a chain node that is the relay's agent endpoint (`tunnel+tls://relay:8443`):
/// such a node carries an `rtcp`/`rudp` listener's sessions; nothing can connect through it.
struct TunnelNodeConnector: Connector {
    func connect(_ io: Handshake, to target: HostPort, logger: Logger) async throws {
        throw EngineError(.unsupported, "a tunnel node carries rtcp/rudp listeners only; it cannot connect to \(target)")
    }
}
