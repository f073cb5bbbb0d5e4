import Logging
import NIOCore
import NIOHTTP1

/// The client-facing half of the HTTP proxy, kept thin: it turns NIO callbacks into events for
/// `HTTPProxyServerStateMachine`, which decides, and carries out the actions the machine returns.
///
/// Why the split: what touches channels stays here (the origin connection's handler, dialling, the
/// pipeline surgery that turns a CONNECT into a tunnel, the future of the last response write),
/// while the rules (one exchange at a time, pipelined requests waiting unread, keep-alive, 407, the
/// client's half-close) live in a value that tests drive event by event.
final class HTTPProxyServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    typealias Action = HTTPProxyServerStateMachine.Action

    /// Reaches a target; the future completes on the given loop (the handler's own).
    typealias Dial = (HostPort, EventLoop) -> EventLoopFuture<Handshake>

    /// A connection a dial just brought, which the next actions adopt, glue or discard.
    private enum Connected {
        case origin(HTTPProxyClientHandler)
        case tunnel(Handshake)
    }

    private let auth: Authenticator
    private let handlerContext: HandlerContext
    private let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let encoder: HTTPResponseEncoder
    private let dialTarget: Dial
    private var context: ChannelHandlerContext?
    private var machine = HTTPProxyServerStateMachine()
    /// The origin connection the machine keeps (its `upstream`).
    private var upstream: HTTPProxyClientHandler?
    /// The last response end written to the client: a close waits for it (closing drops queued writes).
    private var lastResponseWrite: EventLoopFuture<Void>?

    /// `dial` replaces reaching targets through the service's router (tests hand in their own).
    init(auth: Authenticator, context: HandlerContext, decoder: ByteToMessageHandler<HTTPRequestDecoder>, encoder: HTTPResponseEncoder, dial: Dial? = nil) {
        self.auth = auth
        self.handlerContext = context
        self.decoder = decoder
        self.encoder = encoder
        let router = context.router
        let logger = context.logger
        // Through the chain off the loop, then back on it.
        self.dialTarget = dial ?? { target, loop in
            let promise = loop.makePromise(of: Handshake.self)
            Task {
                do {
                    promise.succeed(try await router.dial(target, on: loop, logger: logger))
                } catch {
                    promise.fail(error)
                }
            }
            return promise.futureResult
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: events from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.run(self.machine.requestHead(head, authorized: self.authorized(head)))
        case .body(let body): self.run(self.machine.requestBody(body))
        case .end(let trailers): self.run(self.machine.requestEnd(trailers))
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.machine.readRequested() {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.upstream?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            self.run(self.machine.clientInputClosed())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.run(self.machine.clientClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parse = error as? HTTPParserError {
            handlerContext.logger.info("http proxy: bad request", metadata: ["error": "\(parse)"])
            self.run(self.machine.requestMalformed(parse))
        } else {
            self.run(self.machine.clientFailed())
        }
    }

    var clientIsWritable: Bool { self.context?.channel.isWritable ?? false }

    // MARK: events from the origin connection

    func responsePart(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let head): self.run(self.machine.responseHead(head))
        case .body(let body): self.run(self.machine.responseBody(body))
        case .end(let trailers): self.run(self.machine.responseEnd(trailers))
        }
    }

    func responseFlush() {
        self.context?.flush()
    }

    func upstreamClosed(_ handler: HTTPProxyClientHandler) {
        // An origin connection we already let go of may close after a new one took its place.
        guard self.upstream === handler else { return }
        self.upstream = nil
        self.run(self.machine.upstreamClosed())
    }

    func upstreamWritabilityChanged(_ handler: HTTPProxyClientHandler, writable: Bool) {
        guard self.upstream === handler else { return }
        self.machine.upstreamWritabilityChanged(writable: writable)
        self.run([])
    }

    // MARK: carrying out actions

    /// Performs `actions` in order, then lets a held read go if the machine now allows it (checked
    /// after the actions, so a write that filled the origin connection is taken into account).
    ///
    /// Request parts forwarded without their end are flushed once per batch: unflushed bytes count
    /// against the origin connection's writability, so a body left waiting for its end would stop
    /// the reads that bring the end, and an upload larger than the high watermark would stall.
    private func run(_ actions: [Action], connected: Connected? = nil) {
        var unflushed = false
        for action in actions {
            if case .forward(let part) = action {
                if case .end = part { unflushed = false } else { unflushed = true }
            }
            self.perform(action, connected: connected)
        }
        if unflushed {
            self.upstream?.flush()
        }
        if self.machine.releaseHeldRead() {
            self.context?.read()
        }
    }

    private func perform(_ action: Action, connected: Connected?) {
        switch action {
        case .forward(let part):
            self.upstream?.forward(part)
        case .write(let part):
            guard let context else { return }
            if case .end = part {
                self.lastResponseWrite = context.writeAndFlush(self.wrapOutboundOut(part))
            } else {
                context.write(self.wrapOutboundOut(part), promise: nil)
            }
        case .dial(let target):
            self.dial(target) { result in
                switch result {
                case .success(let io): self.originReached(io)
                case .failure(let error): self.run(self.machine.upstreamFailed(error))
                }
            }
        case .dialTunnel(let target):
            self.dial(target) { result in
                switch result {
                case .success(let io): self.run(self.machine.tunnelConnected(), connected: .tunnel(io))
                case .failure(let error): self.run(self.machine.upstreamFailed(error))
                }
            }
        case .adoptConnection:
            if case .origin(let handler) = connected { self.upstream = handler }
        case .discardConnection:
            switch connected {
            case .origin(let handler): handler.close()
            case .tunnel(let io): io.close()
            case nil: break
            }
        case .establishTunnel(let replayInputClosed):
            if case .tunnel(let io) = connected { self.becomeTunnel(with: io, replayInputClosed: replayInputClosed) }
        case .closeUpstream:
            // Forgotten first, so its close (which may report back at once) is not taken for news.
            let handler = self.upstream
            self.upstream = nil
            handler?.close()
        case .respond(let failure):
            self.respond(failure)
        case .closeAfterResponses:
            guard let context else { return }
            if let written = self.lastResponseWrite {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        case .close:
            self.context?.close(promise: nil)
        }
    }

    /// Dials off the loop and resumes on it.
    private func dial(_ target: HostPort, then: @escaping (Result<Handshake, Error>) -> Void) {
        guard let context else { return }
        self.dialTarget(target, context.eventLoop).assumeIsolated().whenComplete { result in
            then(result)
        }
    }

    /// Puts the HTTP client codec on the origin connection before telling the machine, so that a
    /// failure to do so is reported like a failed dial.
    private func originReached(_ io: Handshake) {
        let handler: HTTPProxyClientHandler
        do {
            handler = try HTTPProxyClientHandler.install(on: io, server: self)
        } catch {
            io.close()
            self.run(self.machine.upstreamFailed(error))
            return
        }
        self.run(self.machine.upstreamConnected(writable: io.channel.isWritable), connected: .origin(handler))
    }

    private func becomeTunnel(with upstream: Handshake, replayInputClosed: Bool) {
        guard let context else {
            upstream.close()
            return
        }
        let pipeline = context.pipeline.syncOperations
        let channel = context.channel
        do {
            _ = pipeline.removeHandler(self)
            _ = pipeline.removeHandler(self.encoder)
            // Written raw: the response encoder would frame a body (chunked) that a tunnel must not have.
            channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"), promise: nil)
            try GlueHandler.join(channel, upstream.channel)
            let target = upstream.channel
            // The decoder leaves on the next loop turn, handing the bytes that followed the CONNECT
            // head to the glue outside a read, so no read-complete flushes them: flush them then (a
            // client waiting for the reply to an early TLS ClientHello would wait for ever).
            pipeline.removeHandler(self.decoder).assumeIsolated().whenComplete { _ in
                target.flush()
            }
            _ = upstream.finishOnLoop()
            if replayInputClosed {
                // The client ended its side while the tunnel was being dialled; the glue passes
                // that on to the target as it would have had it come later.
                pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
        } catch {
            channel.close(promise: nil)
            upstream.close()
        }
    }

    /// Answers with an error page and closes; the client's other requests on this connection end.
    private func respond(_ failure: HTTPProxyServerStateMachine.Failure) {
        guard let context else { return }
        switch failure {
        case .authenticationRequired:
            handlerContext.logger.info("http proxy: authentication failed", metadata: ["client": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        case .unreachable(let target, let reason, _):
            handlerContext.logger.info("http proxy: cannot reach target", metadata: ["target": "\(target)", "error": "\(reason)"])
        case .connectTargetInvalid, .notAbsoluteForm, .malformed:
            break
        }
        let status = failure.status
        let body = ByteBuffer(string: "\(status.code) \(status.reasonPhrase): \(failure.message)\n")
        var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close")])
        headers.add(contentsOf: failure.extraHeaders)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func authorized(_ head: HTTPRequestHead) -> Bool {
        if auth.isOpen { return true }
        guard let value = head.headers.first(name: "Proxy-Authorization") else { return false }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let raw = Base64.decode(String(parts[1])) else { return false }
        let text = String(decoding: raw, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return false }
        return auth.verify(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    /// Splits `http://host[:port]/path?q` into a target and an origin-form path.
    static func parseAbsolute(_ uri: String) -> (HostPort, String)? {
        HTTPProxyServerStateMachine.parseAbsolute(uri)
    }
}
