import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Operations
import TunnelProtocol

/// Sends a request the inspector kept to its tunnel again, as a new stream to one of the
/// tunnel's agents, and keeps the answer as a new record (`replayOf` the original):
/// `POST /api/requests/{id}/replay`.
///
/// The request goes as HTTP/1.1 with `Connection: close` (one exchange per stream), the head as
/// it was seen minus its hop-by-hop fields, and `X-Tunnel-Replay: <id>` so the service can tell.
/// A request whose body was not kept whole cannot be sent again (a different request would go).
struct RequestReplayer: Sendable {
    /// Why a replay did not happen, with the HTTP status the API answers.
    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var reason: String
        var description: String { reason }
    }

    let directory: any TunnelDirectory
    let inspector: RequestInspector
    /// The per-tunnel totals and metrics the replayed exchange counts in, like any other.
    var traffic: TunnelTraffic? = nil
    let logger: Logger
    /// The whole exchange must be done by then.
    var timeout: TimeAmount = .seconds(30)

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "content-length", "trailer", "http2-settings"]

    func replay(_ original: InspectedRequest) async throws -> InspectedRequest {
        if original.requestBytes > 0, original.requestBody?.count != original.requestBytes || original.requestBodyTruncated {
            throw Failure(status: 409, reason: "the request's body was not kept whole (see --inspect-body-limit): it cannot be sent again")
        }
        guard let session = directory.session(for: original.tunnel, near: nil) else {
            throw Failure(status: 409, reason: "the tunnel \(original.tunnel) is offline")
        }
        var headers = HTTPHeaders()
        for field in original.requestHeaders where !Self.hopByHop.contains(field.name.lowercased()) && field.name.lowercased() != "x-tunnel-replay" {
            headers.add(name: field.name, value: field.value)
        }
        if !headers.contains(name: "host") { headers.add(name: "Host", value: original.host) }
        let body = original.requestBody ?? Data()
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(original.method) { headers.add(name: "Content-Length", value: "\(body.count)") }
        headers.add(name: "Connection", value: "close")
        headers.add(name: "X-Tunnel-Replay", value: original.id)
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: original.method), uri: original.path, headers: headers)

        let limit = inspector.settings.bodyLimit
        let started = NIODeadline.now()
        let header = TunnelMessages.StreamHeader(tunnel: original.tunnel, client: "replay", host: original.host)
        let promise = session.channel.eventLoop.makePromise(of: ReplayCollector.Answer.self)
        let stream: Channel
        do {
            stream = try await EntrypointHandler.openStream(session: session, header: header, directory: directory, logger: logger, traffic: traffic) { stream in
                try stream.pipeline.syncOperations.addHTTPClientHandlers()
                try stream.pipeline.syncOperations.addHandler(ReplayCollector(bodyLimit: limit, promise: promise))
            }.get()
        } catch {
            promise.fail(error)
            throw Failure(status: 502, reason: "the tunnel \(original.tunnel) cannot be reached: \(error)")
        }
        let deadline = stream.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(status: 504, reason: "no complete answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            stream.close(promise: nil)
        }
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        if !body.isEmpty { stream.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        stream.read()
        let answer: ReplayCollector.Answer
        do {
            answer = try await promise.futureResult.get()
        } catch let failure as Failure {
            throw failure
        } catch {
            deadline.cancel()
            throw Failure(status: 502, reason: "the answer could not be read: \(error)")
        }
        deadline.cancel()
        stream.close(promise: nil)

        var exchange = HTTPExchange(
            tunnel: original.tunnel, host: original.host, method: original.method, target: original.path, proto: "HTTP/1.1", started: started,
            capture: .init(heads: true, bodyLimit: limit))
        exchange.requestHeaders = headers.map { .init(name: $0.name, value: $0.value) }
        if !body.isEmpty { exchange.requestBody(ByteBuffer(bytes: body)) }
        exchange.status = Int(answer.head.status.code)
        exchange.responseHeaders = answer.head.headers.map { .init(name: $0.name, value: $0.value) }
        exchange.responseBytes = answer.bodyBytes
        exchange.responseBody = answer.body
        exchange.responseBodyTruncated = answer.bodyBytes > (answer.body?.readableBytes ?? 0)
        traffic?.answered(exchange, now: .now())
        guard let record = inspector.record(exchange, client: "replay", finished: .now(), replayOf: original.id) else {
            throw Failure(status: 409, reason: "the tunnel \(original.tunnel) is not recorded")
        }
        logger.info("request replayed", metadata: ["original": "\(original.id)", "replay": "\(record.id)", "tunnel": "\(original.tunnel)", "status": "\(answer.head.status.code)"])
        return record
    }
}

/// Collects the answer to a replayed request on its stream: the head, and the body up to a limit
/// (the rest is counted and dropped, so a huge answer costs nothing).
final class ReplayCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    struct Answer: Sendable {
        var head: HTTPResponseHead
        var body: ByteBuffer?
        var bodyBytes: Int
    }

    private let bodyLimit: Int
    private let promise: EventLoopPromise<Answer>
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var bodyBytes = 0
    private var done = false

    init(bodyLimit: Int, promise: EventLoopPromise<Answer>) {
        self.bodyLimit = bodyLimit
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            // Interim answers (100 Continue) are not the answer.
            if h.status.code >= 200 || h.status.code == 101 { head = h }
        case .body(var bytes):
            bodyBytes += bytes.readableBytes
            let room = bodyLimit - (body?.readableBytes ?? 0)
            if room > 0, let part = bytes.readSlice(length: min(room, bytes.readableBytes)) {
                var part = part
                if body == nil { body = context.channel.allocator.buffer(capacity: part.readableBytes) }
                body!.writeBuffer(&part)
            }
        case .end:
            guard let head, !done else { return }
            done = true
            promise.succeed(Answer(head: head, body: body, bodyBytes: bodyBytes))
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !done { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(RequestReplayer.Failure(status: 502, reason: "the stream closed before the answer was complete"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }
}
