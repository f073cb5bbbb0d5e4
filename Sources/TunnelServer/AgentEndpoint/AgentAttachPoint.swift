import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import Shared

/// Where a public entrypoint hands over a connection that turned out to be an agent's: a TLS
/// ClientHello offering the agents' ALPN on the HTTPS port, or a WebSocket on the agents' path.
///
/// Why a shared object: the agent endpoint (`tunnel` service) and the entrypoints are built by
/// separate factories of one registry (`Registry+Relay.swift`). The `tunnel` factory registers
/// its handler and its listener's TLS settings here; an entrypoint that meets an agent calls
/// `attach`, which terminates TLS exactly as the agent endpoint's own listener does (same
/// certificate, TLS 1.3 only, client certificates if it requires them) and runs the same handler,
/// so an agent gets the same checks whichever port it came in on.
public final class AgentAttachPoint: Sendable {
    struct Endpoint: Sendable {
        var service: String
        var handler: RelayAgentHandler
        var tls: NIOSSLContext
        var requiresClientCertificate: Bool
    }

    private let endpoint = NIOLockedValueBox<Endpoint?>(nil)

    public init() {}

    /// Registers the agent endpoint. The first `tunnel` service with a `tls` listener wins (a
    /// relay has one agent endpoint; a second one only answers on its own port); the same
    /// service built again, as a reload that changed it does, replaces its own registration, so
    /// agents on the shared ports get its new handler and TLS settings.
    func register(service: String, handler: RelayAgentHandler, tls options: TLSOptions) throws {
        var options = options
        options.requireTLS13 = true
        let context = try options.makeServerContext()
        endpoint.withLockedValue { e in
            if e == nil || e?.service == service {
                e = Endpoint(service: service, handler: handler, tls: context, requiresClientCertificate: options.requiresClientCertificate)
            }
        }
    }

    /// Whether an agent endpoint is there to take connections.
    public var isAvailable: Bool { endpoint.withLockedValue { $0 != nil } }

    /// Runs `io` as an agent connection. `io`'s reader holds the agent's first TLS bytes (its
    /// ClientHello), unconsumed; TLS is set up behind it and the bytes replayed into it.
    public func attach(_ io: Handshake, context: HandlerContext) async throws {
        guard let endpoint = endpoint.withLockedValue({ $0 }) else {
            throw EngineError(.notAllowed, "this relay has no agent endpoint to attach to")
        }
        let channel = io.channel
        let old = io.readerForLoop
        let logger = context.logger
        let tlsIO = try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Handshake> in
            do {
                let ops = channel.pipeline.syncOperations
                let tls = NIOSSLServerHandler(context: endpoint.tls)
                let reader = HandshakeReader()
                try ops.addHandler(tls, position: .after(old.value))
                try ops.addHandler(reader, position: .after(tls))
                let io = Handshake(channel: channel, reader: reader)
                return ops.removeHandler(old.value).map { io }
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
        logger.debug("agent attaching on a shared port", metadata: ["agent": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
        try await endpoint.handler.handle(tlsIO, context: context)
    }
}
