import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import Shared

/// Agents over WebSocket on the relay's HTTP side (`AgentWebSocketRequest` says which requests
/// are theirs): the first request of a connection is peeked at, and an agent's handshake is
/// answered and the connection, now frames, handed to the agent endpoint.
extension EntrypointHandler {
    enum AgentPeek: Sendable {
        case notAgent
        case head(HTTPFraming.Head)
    }

    /// The first request's head if its request line is the agent path's (nil at the first byte
    /// that rules it out); nothing is consumed. A head that cannot be parsed is left to the
    /// ingress, which answers it. The same deadlines as the ingress's: a connection silent for
    /// `idleTimeout` is closed, a head not decided within `headTimeout` of its first byte is
    /// answered 408 and closed.
    func peekAgentRequest(_ io: Handshake, idleTimeout: TimeAmount, headTimeout: TimeAmount) async throws -> HTTPFraming.Head? {
        let channel = io.channel
        let timer = NIOLockedValueBox<Scheduled<Void>?>(channel.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) })
        defer { timer.withLockedValue { $0?.cancel() } }
        let started = NIOLockedValueBox(false)
        // The parser runs on the channel's loop, as the timers do.
        let headStarted: @Sendable () -> Void = {
            guard !started.withLockedValue({ s in defer { s = true }; return s }) else { return }
            timer.withLockedValue { t in
                t?.cancel()
                t = channel.eventLoop.scheduleTask(in: headTimeout) {
                    let page = Self.page(408, "Request Timeout", "the request head did not arrive in time")
                    channel.writeAndFlush(ByteBuffer(string: page)).whenComplete { _ in channel.close(promise: nil) }
                }
            }
        }
        let peek = try await io.read { buffer -> AgentPeek? in
            guard buffer.readableBytes > 0 else { return nil }
            headStarted()
            guard AgentWebSocketRequest.mayBeAgentRequest(buffer) else { return .notAgent }
            do {
                guard let head = try HTTPFraming.parseHead(buffer, isRequest: true) else { return nil }
                return .head(head)
            } catch {
                return .notAgent
            }
        }
        if case .head(let head) = peek { return head }
        return nil
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
