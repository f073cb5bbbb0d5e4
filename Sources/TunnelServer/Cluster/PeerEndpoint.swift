import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Operations
import Shared
import TunnelProtocol

/// Where the other relays of the cluster bring visitors for tunnels whose agents are attached
/// here (`--peer-addr`): mutual TLS 1.3 with the cluster's peer CA, one Mux session per peer.
///
/// Each stream a peer opens carries the same `StreamHeader` an agent's streams do; it is joined
/// to a new stream on a session of that tunnel **on this relay only** (exactly one hop: a
/// visitor is never carried on to a third relay), byte for byte both ways with half-close and
/// backpressure (`GlueHandler`). With no session of the tunnel here the stream is refused, and
/// the peer tries another relay or answers the visitor itself.
final class PeerEndpoint: Sendable {
    private let directory: LocalTunnelDirectory
    private let traffic: TunnelTraffic?
    private let logger: Logger
    private let server: Channel
    let sessions = LiveSessions()

    /// The address it listens on (the port a `:0` got).
    var localAddress: SocketAddress? { server.localAddress }

    private init(server: Channel, directory: LocalTunnelDirectory, traffic: TunnelTraffic?, logger: Logger) {
        self.server = server
        self.directory = directory
        self.traffic = traffic
        self.logger = logger
    }

    static func bind(
        _ addr: HostPort, tls: NIOSSLContext, directory: LocalTunnelDirectory, traffic: TunnelTraffic?, logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> PeerEndpoint {
        let box = NIOLockedValueBox<PeerEndpoint?>(nil)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let endpoint = box.withLockedValue({ $0 }) else { throw ClusterError(path: "peer", reason: "not ready") }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    let session = try channel.pipeline.syncOperations.addMuxSession(
                        role: .responder, configuration: .tunnel, logger: logger,
                        inboundStreamInitializer: { stream, metadata in endpoint.forward(stream, metadata) })
                    endpoint.sessions.add(session)
                }
            }
            .bind(host: addr.host.isEmpty ? "0.0.0.0" : addr.host, port: addr.port).get()
        let endpoint = PeerEndpoint(server: server, directory: directory, traffic: traffic, logger: logger)
        box.withLockedValue { $0 = endpoint }
        logger.info("peer endpoint listening", metadata: ["addr": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        return endpoint
    }

    /// Joins a peer's stream to a new stream of its tunnel on a local session.
    private func forward(_ inbound: Channel, _ metadata: ByteBuffer) -> EventLoopFuture<Void> {
        let header: TunnelMessages.StreamHeader
        do {
            header = try TunnelMessages.decode(TunnelMessages.StreamHeader.self, from: metadata)
        } catch {
            logger.info("peer stream refused: malformed header")
            return inbound.eventLoop.makeFailedFuture(ClusterError(path: "peer", reason: "malformed stream header"))
        }
        guard let session = directory.localSession(for: header.tunnel, near: inbound.eventLoop, excluding: []) else {
            logger.debug("peer stream refused: no session of the tunnel here", metadata: ["tunnel": "\(header.tunnel)"])
            return inbound.eventLoop.makeFailedFuture(ClusterError(path: header.tunnel, reason: "no session of this tunnel on this relay"))
        }
        do {
            try inbound.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            try inbound.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
        } catch {
            return inbound.eventLoop.makeFailedFuture(error)
        }
        let traffic = self.traffic
        return session.openStream(metadata: metadata) { out in
            out.eventLoop.makeCompletedFuture {
                try out.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                try out.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
                if let traffic { try out.pipeline.syncOperations.addHandler(traffic.counter(forStreamOf: header.tunnel)) }
            }
        }.hop(to: inbound.eventLoop).flatMapThrowing { out in
            try GlueHandler.join(inbound, out)
        }
    }

    /// The listener closes (no new peer session), every peer session goes away, and the visitors
    /// they carry get `timeout` to finish.
    func drain(timeout: Duration) async {
        try? await server.close()
        let cut = await sessions.drain(reason: "relay shutting down", timeout: timeout)
        if cut > 0 { logger.warning("inbound peer sessions cut at the drain timeout", metadata: ["sessions": "\(cut)"]) }
    }
}
