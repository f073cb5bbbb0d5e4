import NIOCore
import NIOWebSocket
import Shared

/// Agents over WebSocket on the relay's HTTP side (`AgentWebSocketRequest` says which requests
/// are theirs; the HTTP ingress hands their connections over, `ReservedRequests`): the handshake
/// is answered and the connection, now frames, goes to the agent endpoint.
extension EntrypointHandler {
    /// A connection the HTTP ingress handed over at a request on the agent path (its reader holds
    /// that request and whatever followed): the decision is taken again on the head (the ingress
    /// only said "the relay's"), the handshake answered, and the connection attached.
    func takeOverAgent(_ io: Handshake, context: HandlerContext) async throws {
        guard let agents, let decide = agentPath() else { throw EngineError(.notAllowed, "this relay has no agent endpoint") }
        let head = try await io.read { buffer in try HTTPFraming.parseHead(buffer, isRequest: true) }
        guard case .accept(let accept) = decide(head) else {
            throw EngineError(.protocolViolation, "not an agent's WebSocket handshake")
        }
        try await attachWebSocket(io, head: head, accept: accept, agents: agents, context: context)
    }

    /// Answers the agent's WebSocket handshake and hands the connection, now a byte stream in
    /// frames, to the agent endpoint; the agent's TLS follows inside.
    func attachWebSocket(_ io: Handshake, head: HTTPFraming.Head, accept: String, agents: AgentAttachPoint, context: HandlerContext) async throws {
        _ = try await io.read { buffer in buffer.readSlice(length: head.length) }
        try await io.write(AgentWebSocketRequest.switchingProtocols(accept: accept))
        let channel = io.channel
        let old = io.readerForLoop
        let framed = try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Handshake> in
            do {
                let ops = channel.pipeline.syncOperations
                let decoder = ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: WebSocketByteStreamHandler.maxInboundFrame))
                try ops.addHandler(decoder, position: .after(old.value))
                let encoder = WebSocketFrameEncoder()
                try ops.addHandler(encoder, position: .after(decoder))
                let adapter = WebSocketByteStreamHandler(role: .server)
                try ops.addHandler(adapter, position: .after(encoder))
                let reader = HandshakeReader()
                try ops.addHandler(reader, position: .after(adapter))
                let framed = Handshake(channel: channel, reader: reader)
                return ops.removeHandler(old.value).map { framed }
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
        context.logger.debug("agent attaching over WebSocket", metadata: ["agent": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
        try await agents.attach(framed, context: context)
    }
}
