import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The client's side of a WebSocket handshake over a connection that is already open (plain TCP,
/// TLS, or the end of a chain of proxies): sends `GET <path>` with the upgrade headers, checks the
/// server's 101 (`NIOWebSocketClientUpgrader` checks `Sec-WebSocket-Accept`), and leaves the
/// connection carrying bytes in binary frames (`WebSocketByteStreamHandler`), with a fresh
/// handshake reader behind, as a dialer's connection.
public enum WebSocketClientUpgrade {
    /// `host` is what the `Host` header says (the name the server or proxy routes by).
    public static func upgrade(_ io: Handshake, host: String, path: String, timeout: TimeAmount = EngineDefaults.connectTimeout) async throws -> Handshake {
        let channel = io.channel
        let old = io.readerForLoop
        let done = channel.eventLoop.makePromise(of: Handshake.self)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            done.fail(EngineError(.timeout, "WebSocket handshake with \(host) timed out"))
        }
        channel.closeFuture.whenComplete { _ in
            done.fail(EngineError(.closed, "connection closed during the WebSocket handshake with \(host)"))
        }
        do {
            try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                do {
                    let ops = channel.pipeline.syncOperations
                    let watcher = UpgradeResponseWatcher(host: host, path: path, promise: done)
                    let boundWatcher = NIOLoopBound(watcher, eventLoop: channel.eventLoop)
                    let upgrader = NIOWebSocketClientUpgrader(
                        maxFrameSize: WebSocketByteStreamHandler.maxInboundFrame, automaticErrorHandling: false,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let ops = channel.pipeline.syncOperations
                                // The frame decoder was added behind the watcher: the watcher goes
                                // before any frame reaches it.
                                ops.removeHandler(boundWatcher.value, promise: nil)
                                try ops.addHandler(WebSocketByteStreamHandler(role: .client))
                                let reader = HandshakeReader()
                                try ops.addHandler(reader)
                                done.succeed(Handshake(channel: channel, reader: reader))
                            }
                        })
                    try ops.addHTTPClientHandlers(
                        position: .last, leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try ops.addHandler(watcher)
                    var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                    head.headers.add(name: "Host", value: host)
                    head.headers.add(name: "User-Agent", value: "tunnel-agent")
                    // The bytes a proxy sent after its answer (none, normally) go to the HTTP
                    // decoder now, then the request goes out.
                    let request = head
                    return ops.removeHandler(old.value).flatMap {
                        channel.writeAndFlush(HTTPClientRequestPart.head(request)).and(channel.writeAndFlush(HTTPClientRequestPart.end(nil))).map { _ in }
                    }
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.get()
            let upgraded = try await done.futureResult.get()
            timer.cancel()
            return upgraded
        } catch {
            timer.cancel()
            done.fail(error)
            channel.close(promise: nil)
            throw error
        }
    }
}

/// Says why an upgrade did not happen: the server's status (a 404 names the path, a 403 a proxy's
/// refusal), or the handshake's error. After a successful upgrade it is removed unused.
final class UpgradeResponseWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let host: String
    private let path: String
    private let promise: EventLoopPromise<Handshake>

    init(host: String, path: String, promise: EventLoopPromise<Handshake>) {
        self.host = host
        self.path = path
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            var hint = ""
            if head.status == .notFound { hint = " (is \(path) the relay's agent path, /_tunnel/agent, and does the proxy pass it?)" }
            if head.status == .badRequest || head.status == .upgradeRequired { hint = " (does every proxy on the way pass WebSocket upgrades?)" }
            promise.fail(EngineError(.protocolViolation, "\(host) answered the WebSocket upgrade with \(head.status.code) \(head.status.reasonPhrase)\(hint)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(EngineError(.protocolViolation, "WebSocket handshake with \(host) failed: \(error)"))
        context.close(promise: nil)
    }
}
