import Foundation
import Logging
import NIOCore
import Operations
import Shared
import TunnelProtocol

/// Sends a request the agent's inspector kept to the tunnel's local service again, over a new
/// TCP connection (the relay is not involved: this is the agent's own inspector), and keeps the
/// answer as a new record (`replayOf` the original): `POST /api/requests/{id}/replay`.
///
/// The request goes as HTTP/1.1 with `Connection: close` (one exchange per connection), the head
/// as it was seen minus its hop-by-hop fields, and `X-Tunnel-Replay: <id>` so the service can
/// tell. The answer is followed by the same `StreamExchangeTap` that watches tunnel streams. A
/// request whose body was not kept whole cannot be sent again (a different request would go).
struct LocalReplayer: Sendable {
    /// Why a replay did not happen, with the HTTP status the API answers.
    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var reason: String
        var description: String { reason }
    }

    let tunnels: [TunnelClientConfiguration.Tunnel]
    let inspector: RequestInspector
    let logger: Logger
    var timeout: TimeAmount = .seconds(30)

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "content-length", "trailer", "http2-settings"]

    func replay(_ original: InspectedRequest, on eventLoop: EventLoop) async throws -> InspectedRequest {
        if original.requestBytes > 0, original.requestBody?.count != original.requestBytes || original.requestBodyTruncated {
            throw Failure(status: 409, reason: "the request's body was not kept whole (see --inspect-body-limit): it cannot be sent again")
        }
        guard let tunnel = tunnels.first(where: { $0.id == original.tunnel }) else {
            throw Failure(status: 409, reason: "this agent no longer serves the tunnel \(original.tunnel)")
        }
        guard tunnel.accept == nil else {
            throw Failure(status: 409, reason: "the tunnel \(original.tunnel) goes to a listener's handler, not to a local service")
        }
        let request = Self.requestBytes(original)
        let capture = inspector.capture(for: original.tunnel) ?? HTTPExchange.Capture(heads: true, bodyLimit: inspector.settings.bodyLimit)
        var tap = StreamExchangeTap(tunnel: original.tunnel, host: original.host, capture: capture)
        let started = NIODeadline.now()
        tap.requestBytes(request, now: started)
        let primed = tap
        let promise = eventLoop.makePromise(of: HTTPExchange.self)
        let local: Channel
        do {
            local = try await TCPDialer().connect(tunnel.target, on: eventLoop).flatMapThrowing { channel in
                try channel.pipeline.syncOperations.addHandler(ReplayAnswerHandler(tap: primed, promise: promise))
                return channel
            }.get()
        } catch {
            promise.fail(error)
            throw Failure(status: 502, reason: "the service of \(original.tunnel) at \(tunnel.target) cannot be reached: \(error)")
        }
        let timeout = self.timeout
        let deadline = local.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(status: 504, reason: "no complete answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            local.close(promise: nil)
        }
        if let version = tunnel.proxyProtocol { local.write(ProxyProtocol.header(version, source: nil, destination: nil), promise: nil) }
        local.writeAndFlush(request, promise: nil)
        let exchange: HTTPExchange
        do {
            exchange = try await promise.futureResult.get()
        } catch let failure as Failure {
            deadline.cancel()
            throw failure
        } catch {
            deadline.cancel()
            throw Failure(status: 502, reason: "the answer could not be read: \(error)")
        }
        deadline.cancel()
        local.close(promise: nil)
        guard let record = inspector.record(exchange, client: "replay", finished: .now(), replayOf: original.id) else {
            throw Failure(status: 409, reason: "the tunnel \(original.tunnel) is not recorded")
        }
        logger.info("request replayed to the local service", metadata: [
            "original": "\(original.id)", "replay": "\(record.id)", "tunnel": "\(original.tunnel)", "status": "\(exchange.status ?? 0)",
        ])
        return record
    }

    /// The request as it goes again: its head without hop-by-hop fields, `Connection: close`,
    /// `X-Tunnel-Replay`, and the kept body.
    static func requestBytes(_ original: InspectedRequest) -> ByteBuffer {
        var head = "\(original.method) \(original.path) HTTP/1.1\r\n"
        var hasHost = false
        for field in original.requestHeaders {
            let name = field.name.lowercased()
            if hopByHop.contains(name) || name == "x-tunnel-replay" { continue }
            if name == "host" { hasHost = true }
            head += "\(field.name): \(field.value)\r\n"
        }
        if !hasHost { head += "Host: \(original.host)\r\n" }
        let body = original.requestBody ?? Data()
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(original.method) { head += "Content-Length: \(body.count)\r\n" }
        head += "Connection: close\r\nX-Tunnel-Replay: \(original.id)\r\n\r\n"
        var bytes = ByteBuffer(string: head)
        bytes.writeBytes(body)
        return bytes
    }
}

/// Reads the answer to a replayed request through a `StreamExchangeTap` (which saw the request)
/// and completes with the exchange once the answer is whole.
final class ReplayAnswerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var tap: StreamExchangeTap
    private let promise: EventLoopPromise<HTTPExchange>
    private var done = false

    init(tap: StreamExchangeTap, promise: EventLoopPromise<HTTPExchange>) {
        self.tap = tap
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        if let exchange = tap.responseBytes(unwrapInboundIn(data), now: .now()).first {
            succeed(exchange, context: context)
        } else if !tap.observing {
            fail(LocalReplayer.Failure(status: 502, reason: "the service's answer is not HTTP/1 this agent can read"), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { ended(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended(context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    /// The service closed: an answer delimited by the close is complete; otherwise it was cut.
    private func ended(context: ChannelHandlerContext) {
        guard !done else { return }
        if let exchange = tap.responseEnded() {
            succeed(exchange, context: context)
        } else {
            fail(LocalReplayer.Failure(status: 502, reason: "the service closed the connection before the answer was complete"), context: context)
        }
    }

    private func succeed(_ exchange: HTTPExchange, context: ChannelHandlerContext) {
        done = true
        promise.succeed(exchange)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        promise.fail(error)
        context.close(promise: nil)
    }
}
