import Logging
import Metrics
import NIOCore

/// One configured service, ready to run: a listener, a handler, and what the handler shares.
public struct ServiceRuntime: Sendable {
    public var name: String
    public var address: HostPort
    public var handlerType: String
    public var listenerType: String
    public var listener: AnyListener
    public var handler: AnyHandler
    public var context: HandlerContext
    /// A connection that has not finished its handshake by then is closed.
    public var handshakeTimeout: TimeAmount = EngineDefaults.handshakeTimeout
    /// Caps the connections this service (with others sharing the limiter) holds at once.
    public var connectionLimiter: ConnectionLimiter?
    /// What built it (`EngineBuilder.signature`): a reload restarts it only if this changed.
    public var signature = ""

    /// Runs until cancelled. `bound` reports the real address (useful with port 0).
    public func run(group: EventLoopGroup, bound: @escaping @Sendable (String, SocketAddress) -> Void = { _, _ in }) async throws {
        let logger = context.logger
        let name = self.name
        switch (listener, handler) {
        case (.stream(let listener), .stream(let handler)):
            let accepted = Counter(label: "service_connections_total", dimensions: [("service", name)])
            let failed = Counter(label: "service_connection_errors_total", dimensions: [("service", name)])
            /// Connections of this service open now, accepted until closed (handed-over ones too).
            let open = Meter(label: "service_connections_open", dimensions: [("service", name)])
            let context = self.context
            let timeout = self.handshakeTimeout
            let limiter = self.connectionLimiter
            try await listener.run(
                address: address, group: group, logger: logger,
                bound: { address in
                    logger.info("service listening", metadata: ["address": "\(address)", "handler": "\(handlerType)", "listener": "\(listenerType)"])
                    bound(name, address)
                },
                accept: { io in
                    accepted.increment()
                    open.increment()
                    io.channel.closeFuture.whenComplete { _ in open.decrement() }
                    guard limiter?.acquire(for: io, logger: logger) ?? true else { return }
                    let timer = io.channel.eventLoop.scheduleTask(in: timeout) { io.channel.close(promise: nil) }
                    defer { timer.cancel() }
                    do {
                        try await handler.handle(io, context: context)
                    } catch {
                        failed.increment()
                        logger.info("connection refused", metadata: ["client": "\(io.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
                        io.close()
                    }
                })
        case (.datagram(let listener), .datagram(let handler)):
            let channel = try await listener.bind(address: address, group: group, logger: logger)
            if let local = channel.localAddress {
                logger.info("service listening", metadata: ["address": "\(local)", "handler": "\(handlerType)", "listener": "\(listenerType)"])
                bound(name, local)
            }
            try await handler.start(on: channel, context: context)
            try await withTaskCancellationHandler {
                try await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        default:
            throw ConfigError(path: name, reason: "listener and handler kinds do not match")
        }
    }
}
