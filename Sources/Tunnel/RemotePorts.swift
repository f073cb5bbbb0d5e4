import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Shared

/// rtcp on the relay: TCP ports that agents ask the relay to open. Each accepted connection is
/// carried as a stream of a session of the tunnel that claimed the port, like an entrypoint
/// connection. A port belongs to one tunnel; several sessions of that tunnel share it; it closes
/// when the tunnel's last session leaves, so a reconnecting agent can claim it again at once.
public final class RemotePorts: Sendable {
    /// Ports agents may claim (a token's rights narrow this further once tokens carry rights).
    public let allowed: ClosedRange<Int>
    private let registry: TunnelRegistry
    private let group: EventLoopGroup
    private let logger: Logger
    private let bound: NIOLockedValueBox<[Int: Binding]>

    struct Binding {
        var tunnel: String
        var channel: Channel?
        var ready: EventLoopFuture<Void>
    }

    public init(registry: TunnelRegistry, allowed: ClosedRange<Int> = 1024...65535, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.registry = registry
        self.allowed = allowed
        self.group = group
        self.logger = logger
        self.bound = NIOLockedValueBox([:])
    }

    /// Opens `port` for `tunnel`, or joins it if that tunnel already has it.
    public func claim(_ port: Int, tunnel: String, on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        guard allowed.contains(port) else {
            return eventLoop.makeFailedFuture(EngineError(.notAllowed, "port \(port) is outside \(allowed.lowerBound)-\(allowed.upperBound)"))
        }
        let promise = eventLoop.makePromise(of: Void.self)
        let existing: EventLoopFuture<Void>? = bound.withLockedValue { ports in
            if let b = ports[port] {
                return b.tunnel == tunnel ? b.ready : eventLoop.makeFailedFuture(EngineError(.notAllowed, "port \(port) belongs to another tunnel"))
            }
            ports[port] = Binding(tunnel: tunnel, channel: nil, ready: promise.futureResult)
            return nil
        }
        if let existing { return existing.hop(to: eventLoop) }
        let registry = self.registry
        let logger = self.logger
        ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let reader = HandshakeReader()
                    try child.pipeline.syncOperations.addHandler(reader)
                    let io = Handshake(channel: child, reader: reader)
                    Task { await Self.accept(io, tunnel: tunnel, port: port, registry: registry, logger: logger) }
                }
            }
            .bind(host: "0.0.0.0", port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.bound.withLockedValue { $0[port]?.channel = channel }
                    logger.info("remote port open", metadata: ["port": "\(port)", "tunnel": "\(tunnel)"])
                    promise.succeed(())
                case .failure(let error):
                    self.bound.withLockedValue { $0[port] = nil }
                    promise.fail(EngineError(.notAllowed, "cannot open port \(port): \(error)"))
                }
            }
        return promise.futureResult
    }

    /// Closes every port of `tunnel` (its last session left).
    public func release(tunnel: String) {
        let channels: [Channel] = bound.withLockedValue { ports in
            let mine = ports.filter { $0.value.tunnel == tunnel }
            for port in mine.keys { ports[port] = nil }
            return mine.values.compactMap(\.channel)
        }
        for c in channels {
            logger.info("remote port closed", metadata: ["port": "\(c.localAddress?.port ?? 0)", "tunnel": "\(tunnel)"])
            c.close(promise: nil)
        }
    }

    static func accept(_ io: Handshake, tunnel: String, port: Int, registry: TunnelRegistry, logger: Logger) async {
        guard let session = registry.session(for: tunnel) else {
            io.close()
            return
        }
        let header = TunnelMessages.StreamHeader(
            tunnel: tunnel, client: io.channel.remoteAddress.map { "\($0.hostPort)" }, host: nil,
            server: io.channel.localAddress.map { "\($0.hostPort)" })
        do {
            try await EntrypointHandler.forward(io, session: session, header: header, registry: registry, logger: logger)
        } catch {
            logger.info("remote port connection failed", metadata: ["port": "\(port)", "error": "\(error)"])
            io.close()
        }
    }
}
