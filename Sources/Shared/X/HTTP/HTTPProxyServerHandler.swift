import Logging
import NIOCore
import NIOHTTP1

/// The client-facing half of the HTTP proxy. One exchange at a time: while a request is being
/// answered, further pipelined requests wait (bounded by the reads it stops asking for).
final class HTTPProxyServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let auth: Authenticator
    private let handlerContext: HandlerContext
    private let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let encoder: HTTPResponseEncoder
    private var context: ChannelHandlerContext?

    private var upstream: HTTPProxyClientHandler?
    private var upstreamTarget: HostPort?
    /// Parts received while the upstream connection is being set up or busy.
    private var queued: [HTTPServerRequestPart] = []
    private var connecting = false
    private var responseInFlight = false
    private var requestKeepAlive = true
    private var pendingRead = false
    private var tunnelling = false
    /// The client ended its side. The listener allows half-close, so a client's FIN arrives as this
    /// event, not as a closed channel: what it already asked for is answered, then the connection
    /// (and the origin connection kept for it) is closed; nothing else would ever close them.
    private var inputClosed = false
    /// The last response end written to the client: a close waits for it (closing drops queued writes).
    private var lastResponseWrite: EventLoopFuture<Void>?

    init(auth: Authenticator, context: HandlerContext, decoder: ByteToMessageHandler<HTTPRequestDecoder>, encoder: HTTPResponseEncoder) {
        self.auth = auth
        self.handlerContext = context
        self.decoder = decoder
        self.encoder = encoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: requests from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.connecting || self.responseInFlight || !self.queued.isEmpty {
            self.queued.append(part)
            if case .end = part, !self.connecting, !self.responseInFlight {
                self.drainQueue()
            }
            return
        }
        self.process(part)
    }

    private func process(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            self.startRequest(head)
        case .body, .end:
            if case .end = part { self.responseInFlight = true }
            self.upstream?.forward(self.clientPart(part))
        }
    }

    private func startRequest(_ head: HTTPRequestHead) {
        guard let context else { return }
        guard self.authorized(head) else {
            self.respondError(.proxyAuthenticationRequired, "proxy authentication required", extraHeaders: [("Proxy-Authenticate", "Basic realm=\"proxy\"")])
            handlerContext.logger.info("http proxy: authentication failed", metadata: ["client": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            return
        }
        if head.method == .CONNECT {
            guard let target = try? HostPort(parsing: head.uri), !target.host.isEmpty, target.port > 0 else {
                self.respondError(.badRequest, "CONNECT needs host:port")
                return
            }
            self.connecting = true
            self.tunnelling = true
            self.dial(target) { result in
                switch result {
                case .success(let io): self.becomeTunnel(with: io)
                case .failure(let error): self.respondDialError(error, target: target)
                }
            }
            return
        }
        guard let (target, path) = Self.parseAbsolute(head.uri) else {
            self.respondError(.badRequest, "this is a proxy: send absolute-form requests (http://host/path) or CONNECT")
            return
        }
        var forwarded = head
        forwarded.uri = path
        forwarded.headers.remove(name: "Proxy-Authorization")
        forwarded.headers.remove(name: "Proxy-Connection")
        if !forwarded.headers.contains(name: "Host") {
            forwarded.headers.add(name: "Host", value: target.port == 80 ? target.host : "\(target)")
        }
        self.requestKeepAlive = head.isKeepAlive
        if let upstream, upstreamTarget == target, upstream.isActive {
            upstream.forward(.head(forwarded))
            return
        }
        self.upstream?.close()
        self.upstream = nil
        self.connecting = true
        self.queued.insert(.head(head), at: 0)
        self.dial(target) { result in
            switch result {
            case .success(let io):
                do {
                    self.upstream = try HTTPProxyClientHandler.install(on: io, server: self)
                    self.upstreamTarget = target
                    self.connecting = false
                    self.queued.removeFirst()
                    self.upstream?.forward(.head(forwarded))
                    self.drainQueue()
                } catch {
                    io.close()
                    self.respondDialError(error, target: target)
                }
            case .failure(let error):
                self.queued.removeAll()
                self.respondDialError(error, target: target)
            }
        }
    }

    /// Reaches `target` through the chain off the loop, then resumes on the loop.
    private func dial(_ target: HostPort, then: @escaping (Result<Handshake, Error>) -> Void) {
        guard let context else { return }
        let router = handlerContext.router
        let logger = handlerContext.logger
        let loop = context.eventLoop
        let promise = loop.makePromise(of: Handshake.self)
        Task {
            do {
                promise.succeed(try await router.dial(target, on: loop, logger: logger))
            } catch {
                promise.fail(error)
            }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            then(result)
        }
    }

    private func becomeTunnel(with upstream: Handshake) {
        guard let context else {
            upstream.close()
            return
        }
        self.connecting = false
        let pipeline = context.pipeline.syncOperations
        let channel = context.channel
        do {
            _ = pipeline.removeHandler(self)
            _ = pipeline.removeHandler(self.encoder)
            // Written raw: the response encoder would frame a body (chunked) that a tunnel must not have.
            channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"), promise: nil)
            try GlueHandler.join(channel, upstream.channel)
            _ = pipeline.removeHandler(self.decoder)
            _ = upstream.finishOnLoop()
            if self.inputClosed {
                // The client ended its side while the tunnel was being dialled; the glue passes
                // that on to the target as it would have had it come later.
                pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
        } catch {
            channel.close(promise: nil)
            upstream.close()
        }
    }

    private func drainQueue() {
        while !self.connecting, !self.responseInFlight, !self.queued.isEmpty {
            self.process(self.queued.removeFirst())
        }
        if self.queued.isEmpty, self.pendingRead, self.canRead {
            self.pendingRead = false
            self.context?.read()
        }
        self.closeIfClientFinished()
    }

    /// After the client's end of input, once no request of its is being set up or answered: closes
    /// the origin connection, and the client's once the last response has been written. A request
    /// the client had not finished sending can no longer be, so it is not waited for.
    private func closeIfClientFinished() {
        guard self.inputClosed, !self.connecting, !self.responseInFlight, self.queued.isEmpty, let context else { return }
        self.upstream?.close()
        self.upstream = nil
        if let written = self.lastResponseWrite {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: responses from upstream

    func responsePart(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            // The client's connection is ours to keep: answer in HTTP/1.1 (the encoder re-frames a
            // close-delimited body as chunked), drop the origin's hop-by-hop headers, and reuse the
            // origin connection only if it said it may be reused.
            var out = HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)
            for name in ["Connection", "Keep-Alive", "Proxy-Connection"] { out.headers.remove(name: name) }
            if !requestKeepAlive { out.headers.add(name: "Connection", value: "close") }
            self.upstreamReusable = head.isKeepAlive
            context.write(self.wrapOutboundOut(.head(out)), promise: nil)
        case .body(let body):
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        case .end(let trailers):
            self.responseInFlight = false
            let close = !self.requestKeepAlive
            let written = context.writeAndFlush(self.wrapOutboundOut(.end(trailers)))
            self.lastResponseWrite = written
            written.assumeIsolated().whenComplete { _ in
                if close { context.close(promise: nil) }
            }
            if close || !self.upstreamReusable {
                self.upstream?.close()
                self.upstream = nil
            }
            if !close {
                self.drainQueue()
            }
        }
    }

    private var upstreamReusable = true

    func responseFlush() {
        self.context?.flush()
    }

    /// The upstream connection ended. Mid-response that is an error the client must see.
    func upstreamClosed(_ handler: HTTPProxyClientHandler) {
        // An origin connection we already let go of may close after a new one took its place.
        guard self.upstream === handler else { return }
        self.upstream = nil
        if self.responseInFlight || self.connecting {
            self.context?.close(promise: nil)
        }
    }

    func upstreamBecameWritable() {
        if self.pendingRead, self.canRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    var clientIsWritable: Bool { self.context?.channel.isWritable ?? false }

    // MARK: flow control

    private var canRead: Bool {
        if self.connecting || self.responseInFlight || !self.queued.isEmpty { return false }
        return self.upstream?.isWritable ?? true
    }

    func read(context: ChannelHandlerContext) {
        if self.canRead {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.upstream?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            self.inputClosed = true
            self.closeIfClientFinished()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.upstream?.close()
        self.upstream = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parse = error as? HTTPParserError {
            if case .headerOverflow = parse {
                self.respondError(.requestHeaderFieldsTooLarge, "request header fields larger than the limit")
            } else {
                self.respondError(.badRequest, "malformed request: \(parse)")
            }
            handlerContext.logger.info("http proxy: bad request", metadata: ["error": "\(parse)"])
            return
        }
        context.close(promise: nil)
    }

    // MARK: helpers

    private func authorized(_ head: HTTPRequestHead) -> Bool {
        if auth.isOpen { return true }
        guard let value = head.headers.first(name: "Proxy-Authorization") else { return false }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let raw = Base64.decode(String(parts[1])) else { return false }
        let text = String(decoding: raw, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return false }
        return auth.verify(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    private func respondDialError(_ error: Error, target: HostPort) {
        handlerContext.logger.info("http proxy: cannot reach target", metadata: ["target": "\(target)", "error": "\(error)"])
        let status: HTTPResponseStatus = (error as? EngineError)?.kind == .timeout ? .gatewayTimeout : .badGateway
        self.respondError(status, "cannot reach \(target): \(error)")
    }

    /// Answers with an error page and closes; the client's other requests on this connection end.
    private func respondError(_ status: HTTPResponseStatus, _ message: String, extraHeaders: [(String, String)] = []) {
        guard let context else { return }
        self.connecting = false
        let body = ByteBuffer(string: "\(status.code) \(status.reasonPhrase): \(message)\n")
        var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close")])
        headers.add(contentsOf: extraHeaders)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func clientPart(_ part: HTTPServerRequestPart) -> HTTPClientRequestPart {
        switch part {
        case .head(let h): return .head(h)
        case .body(let b): return .body(.byteBuffer(b))
        case .end(let t): return .end(t)
        }
    }

    /// Splits `http://host[:port]/path?q` into a target and an origin-form path.
    static func parseAbsolute(_ uri: String) -> (HostPort, String)? {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst(7)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = String(rest[..<slash])
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        var path = String(rest[slash...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        let target: HostPort
        if let parsed = try? HostPort(parsing: authority), !parsed.host.isEmpty {
            target = parsed
        } else if !authority.isEmpty, !authority.contains(":") || authority.hasPrefix("[") {
            let host = authority.hasPrefix("[") ? String(authority.dropFirst().dropLast()) : authority
            target = HostPort(host: host, port: 80)
        } else {
            return nil
        }
        return (target, path)
    }
}
