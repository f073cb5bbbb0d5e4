import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Shared
import TunnelProtocol

/// The HTTP side of the public entrypoint: every request of a keep-alive connection is routed by
/// its own `Host`, gets `X-Forwarded-For`/`X-Forwarded-Proto`, and is carried on a Mux stream of
/// its tunnel. Consecutive requests for one tunnel share one stream (so the agent keeps one
/// keep-alive connection to the local service); a request for another tunnel waits until the
/// answers before it are complete, then moves the connection to a stream of that tunnel, so
/// responses always come back in request order.
///
/// Only heads and chunk-size lines are parsed (`HTTPFraming`); bodies pass through unbuffered, and
/// after an upgrade (WebSocket, CONNECT) both directions are spliced raw. Backpressure: the public
/// side is read only while the stream is writable, a request is not held up, and fewer than
/// `maxPipelined` answers are outstanding; the stream is read only while the public side is
/// writable. Everything held at once is bounded by one head (`HTTPFraming.maxHead`) and one read.
final class HTTPIngressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Requests sent ahead of their answers before the client is no longer read.
    static let maxPipelined = 32

    /// The stream a run of requests is carried on. Touched on the ingress handler's loop only.
    final class Upstream {
        let id: Int
        let tunnel: String
        let channel: Channel
        let handler: CrossLoopRef<HTTPUpstreamHandler>
        var writable = true
        /// The origin said `Connection: close`: no further request may go to this stream.
        var reusable = true

        init(id: Int, tunnel: String, channel: Channel, handler: CrossLoopRef<HTTPUpstreamHandler>) {
            self.id = id
            self.tunnel = tunnel
            self.channel = channel
            self.handler = handler
        }
    }

    private let directory: any TunnelDirectory
    private let logger: Logger
    /// How long a connection may sit between requests (or dribble a head) before it is closed.
    private let idleTimeout: TimeAmount
    /// How long a request head may take from its first byte: the idle timer restarts on every
    /// byte, so without this a client dribbling a byte every few seconds holds the connection
    /// forever (slowloris).
    private let headTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    /// When the client last sent a byte (or reading it resumed): a request body that stops
    /// arriving while it is being read is cut off after `idleTimeout` (nginx's client_body_timeout).
    private var lastClientRead = NIODeadline.now()
    /// Since when the client has not taken what is written to it: cut off after `idleTimeout`
    /// (nginx's send_timeout), so a client that never reads cannot hold the stream and the origin.
    private var unwritableSince: NIODeadline?
    /// When the first byte of the head now being read arrived; nil between heads.
    private var headStarted: NIODeadline?
    private var idleTimer: Scheduled<Void>?
    private var idleTimerDeadline: NIODeadline?
    private let client: String?
    private let clientIP: String?
    private let server: String?
    private var context: ChannelHandlerContext?

    private var inbound: ByteBuffer?
    private var requestBody: HTTPFraming.Body = .none
    /// A request whose stream is not ready: being opened, or earlier answers outstanding.
    private var pendingHead: HTTPFraming.Head?
    private var opening = false
    private var inputEnded = false
    private var readPending = false
    private var closing = false
    /// The client asked to close after its last request: nothing after it is read.
    private var lastRequestSent = false
    private var upstreamOutputClosed = false
    /// An upgrade (or CONNECT) was sent: nothing after it is parsed until its answer says whether
    /// the connection turns raw (101, or 2xx to CONNECT) or stays HTTP.
    private var upgradePending = false
    /// An error page owed to the client once the answers before it are delivered.
    private var pendingReject: (code: Int, reason: String, message: String, extra: String)?

    private var upstream: Upstream?
    private var nextID = 0
    private var outstanding = CircularBuffer<String>()
    private var response: ByteBuffer?
    private var responseBody: HTTPFraming.Body = .none

    init(
        directory: any TunnelDirectory, logger: Logger, client: String?, clientIP: String?, server: String?,
        idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, headTimeout: TimeAmount = RelayDefaults.httpHeadTimeout
    ) {
        self.directory = directory
        self.idleTimeout = idleTimeout
        self.headTimeout = headTimeout
        self.logger = logger
        self.client = client
        self.clientIP = clientIP
        self.server = server
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleIdleCheck(at: .now() + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idleTimer?.cancel()
        idleTimer = nil
        idleTimerDeadline = nil
        // The stream's handler points back here: let go of it and of any buffered bytes.
        if let up = upstream {
            upstream = nil
            up.channel.close(promise: nil)
        }
        inbound = nil
        response = nil
    }

    /// One timer per connection, re-armed from the last activity when it fires early, so busy
    /// connections pay a clock read per read, not a timer per request.
    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let context else { return }
        idleTimer?.cancel()
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimerDeadline = deadline
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) { me.value.idleCheck() }
    }

    /// Between requests (nothing outstanding, nothing being opened, not upgraded), a connection
    /// silent for `idleTimeout` is closed; one that started a head and did not finish it within
    /// `headTimeout` of its first byte (or went silent in it) gets 408.
    private func idleCheck() {
        idleTimer = nil
        idleTimerDeadline = nil
        guard let context, !closing else { return }
        let now = NIODeadline.now()
        if requestBody != .none, requestBody != .raw, canRead, lastClientRead + idleTimeout <= now {
            logger.debug("http entrypoint: request body stalled", metadata: ["client": "\(client ?? "")"])
            return fail("request body stalled")
        }
        if let since = unwritableSince, !context.channel.isWritable, since + idleTimeout <= now {
            logger.debug("http entrypoint: client stopped reading", metadata: ["client": "\(client ?? "")"])
            return fail("client stopped reading")
        }
        let waiting = outstanding.isEmpty && !opening && pendingHead == nil && requestBody == .none && responseBody == .none
        var due = lastActivity + idleTimeout
        if let started = headStarted { due = min(due, started + headTimeout) }
        guard waiting, due <= .now() else {
            return scheduleIdleCheck(at: waiting ? due : .now() + min(idleTimeout, headTimeout))
        }
        if (inbound?.readableBytes ?? 0) > 0 {
            logger.debug("http entrypoint: request head not completed in time", metadata: ["client": "\(client ?? "")"])
            return reject(408, "Request Timeout", "the request head did not arrive in time")
        }
        logger.debug("http entrypoint: idle connection closed", metadata: ["client": "\(client ?? "")"])
        finishPublic()
    }

    // MARK: the public connection

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        lastActivity = .now()
        lastClientRead = lastActivity
        // After a request that said `Connection: close` (and its body) nothing more is read.
        if lastRequestSent && requestBody == .none { return }
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        process()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            inputEnded = true
            process()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        if let up = upstream {
            upstream = nil
            up.channel.close(promise: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("http entrypoint: connection error", metadata: ["client": "\(client ?? "")", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = .now()
        }
        upstream?.handler.setPartnerWritable(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if canRead {
            context.read()
        } else {
            readPending = true
        }
    }

    private var canRead: Bool {
        !closing && !opening && pendingHead == nil && pendingReject == nil && (!(lastRequestSent || upgradePending) || requestBody != .none)
            && outstanding.count < Self.maxPipelined
            && (upstream?.writable ?? true) && (inbound?.readableBytes ?? 0) <= HTTPFraming.maxHead
    }

    private func resumeReading() {
        guard readPending, canRead, let context else { return }
        readPending = false
        // The client's silence while it was not read is not its stall.
        lastClientRead = .now()
        context.read()
    }

    /// Frames what the client sent and passes it on, until a request must wait or bytes run out.
    private func process() {
        guard context != nil, !closing else { return }
        var wrote = false
        defer {
            if wrote { upstream?.channel.flush() }
        }
        do {
            while var buffer = inbound, buffer.readableBytes > 0, pendingHead == nil, !opening, pendingReject == nil,
                !((lastRequestSent || upgradePending) && requestBody == .none)
            {
                if requestBody != .none {
                    guard let up = upstream else { return fail("request body without a stream") }
                    let (count, done) = try requestBody.advance(buffer.readableBytesView, from: buffer.readerIndex)
                    if count > 0 {
                        up.channel.write(buffer.readSlice(length: count)!, promise: nil)
                        wrote = true
                    }
                    inbound = buffer
                    if !done { break }
                    continue
                }
                guard let head = try HTTPFraming.parseHead(buffer, isRequest: true) else { break }
                // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 (an HTTP/1.0
                // one is valid, only unroutable: it gets 404 below).
                if head.host == nil && !head.http10 { throw HTTPFraming.Error.malformed("HTTP/1.1 request without Host") }
                buffer.moveReaderIndex(forwardBy: head.length)
                inbound = buffer
                headStarted = nil
                if let up = upstream, up.reusable, let host = head.host, directory.tunnel(forHost: host) == up.tunnel {
                    send(head, to: up)
                    wrote = true
                } else {
                    pendingHead = head
                    startPending()
                }
            }
        } catch let error as HTTPFraming.Error {
            if requestBody != .none { return rejectInsideBody(error) }
            let code = error.kind == .headTooLarge ? (431, "Request Header Fields Too Large") : (400, "Bad Request")
            return reject(code.0, code.1, "the request cannot be read: \(error)")
        } catch {
            return fail("\(error)")
        }
        if requestBody == .none, (inbound?.readableBytes ?? 0) > 0, pendingHead == nil, !(lastRequestSent || upgradePending) {
            // Part of a head is here: its time runs from its first byte, however it trickles.
            if headStarted == nil {
                let started = NIODeadline.now()
                headStarted = started
                if (idleTimerDeadline ?? .distantFuture) > started + headTimeout { scheduleIdleCheck(at: started + headTimeout) }
            }
        } else {
            headStarted = nil
        }
        if inputEnded, requestBody == .none, pendingHead == nil, !opening, outstanding.isEmpty, (inbound?.readableBytes ?? 0) > 0 {
            // The client ended its input inside a head, which can never complete now: close at
            // once rather than hold the socket (in CLOSE_WAIT) until a timer.
            return finishPublic()
        }
        if inputEnded, (inbound?.readableBytes ?? 0) == 0, pendingHead == nil, !opening {
            if requestBody == .raw {
                // Spliced: the client's half-close reaches the origin.
                if let up = upstream, !upstreamOutputClosed {
                    upstreamOutputClosed = true
                    up.channel.close(mode: .output, promise: nil)
                }
            } else if requestBody != .none {
                // The client stopped in the middle of a body: the origin would wait forever.
                return fail("client ended its input inside a request body")
            } else if requestBody == .none, outstanding.isEmpty {
                // The client is done and every answer is delivered. (With answers outstanding,
                // the last one's completion closes the connection: an origin is not told of the
                // end early, since some abandon a request when their client half-closes.)
                return finishPublic()
            }
        }
        resumeReading()
    }

    /// The body of a request already sent on is malformed (a bad chunk-size line): the origin is
    /// waiting for a body whose end no one can find now. Its stream is reset at once (so it stops
    /// waiting) and the client gets 400 here, unless an earlier answer is already on its way
    /// (then the connection closes after what was delivered).
    private func rejectInsideBody(_ error: HTTPFraming.Error) {
        logger.debug("http entrypoint: malformed request body", metadata: ["client": "\(client ?? "")", "error": "\(error)"])
        let answerStarted = responseBody != .none || (response?.readableBytes ?? 0) > 0
        if let up = upstream { release(up) }
        requestBody = .none
        inbound = nil
        guard outstanding.count <= 1, !answerStarted else {
            context?.flush()
            return fail("malformed request body after answers under way")
        }
        outstanding.removeAll()
        reject(400, "Bad Request", "the request body cannot be read: \(error)")
    }

    /// Writes a request head, with the forwarding headers, to its stream.
    private func send(_ head: HTTPFraming.Head, to up: Upstream) {
        up.channel.write(Self.forwardedHead(head, clientIP: clientIP, allocator: up.channel.allocator), promise: nil)
        outstanding.append(head.method)
        requestBody = HTTPFraming.requestBody(head)
        if head.upgrade {
            upgradePending = true
        } else if head.connectionClose {
            lastRequestSent = true
        }
    }

    /// Starts the waiting request once every earlier answer is complete: on a new stream of its
    /// tunnel, or answered here when it has none.
    private func startPending() {
        guard let head = pendingHead, outstanding.isEmpty, !opening, let context else { return }
        if let old = upstream {
            context.flush()
            release(old)
        }
        guard let host = head.host, let tunnel = directory.tunnel(forHost: host) else {
            return reject(404, "Not Found", "no tunnel serves host \(head.host ?? "(none)")")
        }
        guard let session = directory.session(for: tunnel, near: context.eventLoop) else {
            logger.debug("http entrypoint: tunnel offline", metadata: ["tunnel": "\(tunnel)", "host": "\(host)"])
            return reject(503, "Service Unavailable", "the tunnel for \(host) is offline", extra: "Retry-After: 5\r\n")
        }
        opening = true
        let ingress = CrossLoopRef(self, on: context.eventLoop)
        let header = TunnelMessages.StreamHeader(tunnel: tunnel, client: client, host: host, server: server)
        let publicWritable = context.channel.isWritable
        // Each open attempt gets its own handler and ID, so events of a stream that failed to
        // open can never touch the one that did.
        let attempts = NIOLockedValueBox<(next: Int, made: (Int, CrossLoopRef<HTTPUpstreamHandler>)?)>((nextID, nil))
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        EntrypointHandler.openStream(session: session, header: header, directory: directory, near: context.eventLoop, logger: logger) { stream in
            let id = attempts.withLockedValue { a in
                a.next += 1
                return a.next
            }
            let handler = HTTPUpstreamHandler(id: id, ingress: ingress, partnerWritable: publicWritable)
            try stream.pipeline.syncOperations.addHandler(handler)
            attempts.withLockedValue { $0.made = (id, CrossLoopRef(handler, on: stream.eventLoop)) }
        }.hop(to: context.eventLoop).whenComplete { result in
            let me = me.value
            me.opening = false
            let made = attempts.withLockedValue { $0 }
            me.nextID = made.next
            guard !me.closing else {
                if case .success(let stream) = result { stream.close(promise: nil) }
                return
            }
            switch result {
            case .success(let stream):
                guard let (id, ref) = made.made else { return me.fail("stream opened without its handler") }
                let up = Upstream(id: id, tunnel: tunnel, channel: stream, handler: ref)
                me.upstream = up
                me.upstreamOutputClosed = false
                me.pendingHead = nil
                // The public side's writability may have changed while the stream opened.
                ref.setPartnerWritable(me.context?.channel.isWritable ?? true)
                me.send(head, to: up)
                up.channel.flush()
                ref.startReading(stream)
                me.process()
            case .failure(let error):
                me.logger.info("http entrypoint: tunnel unreachable", metadata: ["tunnel": "\(tunnel)", "error": "\(error)"])
                me.reject(502, "Bad Gateway", "the tunnel for \(host) cannot be reached")
            }
        }
    }

    /// Lets go of a stream: no more of its events count, and its answer state is reset.
    private func release(_ up: Upstream) {
        upstream = nil
        response = nil
        responseBody = .none
        up.channel.close(promise: nil)
    }

    // MARK: the stream (called on this handler's loop)

    func upstreamRead(_ id: Int, _ bytes: ByteBuffer) {
        guard let up = upstream, up.id == id, let context, !closing else { return }
        lastActivity = .now()
        var bytes = bytes
        if response == nil || response!.readableBytes == 0 {
            response = bytes
        } else {
            response!.writeBuffer(&bytes)
        }
        do {
            // Stop as soon as the stream is let go of (an answer completed and the connection
            // moved on): its further bytes must never reach the client as someone else's answer.
            while var buffer = response, buffer.readableBytes > 0, upstream === up, !closing {
                if responseBody != .none {
                    let (count, done) = try responseBody.advance(buffer.readableBytesView, from: buffer.readerIndex)
                    if count > 0 { context.write(self.wrapOutboundOut(buffer.readSlice(length: count)!), promise: nil) }
                    response = buffer
                    if !done { break }
                    completeResponse(up)
                    continue
                }
                guard let method = outstanding.first else {
                    // Bytes nobody asked for: the origin is out of step with the requests.
                    logger.info("http entrypoint: the origin sent bytes nobody asked for", metadata: ["tunnel": "\(up.tunnel)"])
                    context.flush()
                    return fail("unsolicited bytes from the origin")
                }
                guard let head = try HTTPFraming.parseHead(buffer, isRequest: false) else { break }
                context.write(self.wrapOutboundOut(buffer.readSlice(length: head.length)!), promise: nil)
                response = buffer
                if head.status >= 100 && head.status < 200 && head.status != 101 { continue }  // interim
                if head.connectionClose { up.reusable = false }
                let body = HTTPFraming.responseBody(head, method: method)
                if body == .raw {
                    // 101, or 2xx to CONNECT: only an upgrade request may be answered so.
                    guard upgradePending else { return fail("the origin switched protocols unasked") }
                    upgradePending = false
                    requestBody = .raw
                    responseBody = .raw
                    outstanding.removeAll()
                    process()
                    continue
                }
                if upgradePending {
                    // The origin declined the upgrade: the connection stays HTTP.
                    upgradePending = false
                    process()
                }
                responseBody = body
                if responseBody == .none { completeResponse(up) }
            }
        } catch {
            logger.info("http entrypoint: the origin's answer cannot be read", metadata: ["tunnel": "\(up.tunnel)", "error": "\(error)"])
            context.flush()
            return fail("bad response")
        }
    }

    private func completeResponse(_ up: Upstream) {
        _ = outstanding.popFirst()
        guard outstanding.isEmpty else {
            resumeReading()
            return
        }
        if let page = pendingReject {
            pendingReject = nil
            return reject(page.code, page.reason, page.message, extra: page.extra)
        }
        if lastRequestSent || (inputEnded && requestBody == .none && (inbound?.readableBytes ?? 0) == 0) {
            return finishPublic()
        }
        if !up.reusable {
            // Closing a stream on this loop ends its read at once, before the read-complete that
            // would flush: flush what it delivered now.
            context?.flush()
            release(up)
        }
        startPending()
        process()
    }

    func upstreamReadComplete(_ id: Int) {
        // Also for a stream already let go: its last answer may still be queued here.
        context?.flush()
    }

    func upstreamWritabilityChanged(_ id: Int, _ writable: Bool) {
        guard let up = upstream, up.id == id else { return }
        up.writable = writable
        resumeReading()
    }

    /// The origin finished sending (its half-close reached the stream).
    func upstreamInputEnded(_ id: Int) {
        guard let up = upstream, up.id == id, let context, !closing else { return }
        if responseBody == .raw {
            // Spliced: the origin's half-close reaches the client; the client may still send.
            context.flush()
            if inputEnded { return finishPublic() }
            let channel = context.channel
            context.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            return
        }
        upstreamEnded(id)
    }

    /// The stream ended (the origin closed, the agent or session went away).
    func upstreamEnded(_ id: Int) {
        guard let up = upstream, up.id == id, let context, !closing else { return }
        context.flush()
        let wasRaw = responseBody == .raw
        let untilClose = responseBody == .untilClose
        let answerStarted = responseBody != .none || (response?.readableBytes ?? 0) > 0
        release(up)
        if wasRaw || untilClose {
            outstanding.removeAll()
            return finishPublic()
        }
        if requestBody != .none {
            // A request body was still on its way: where it ends is unknown to anyone now.
            return fail("the stream ended inside a request body")
        }
        if !outstanding.isEmpty {
            if !answerStarted {
                // Nothing of the answer was sent: the page answers the first request; the
                // connection closes after it, which tells a pipelining client to retry the rest.
                outstanding.removeAll()
                return reject(502, "Bad Gateway", "the service behind the tunnel closed without answering")
            }
            logger.info("http entrypoint: the origin closed in the middle of an answer", metadata: ["tunnel": "\(up.tunnel)"])
            return fail("truncated response")
        }
        // Idle: the next request opens a new stream.
        if inputEnded { return finishPublic() }
        startPending()
        resumeReading()
    }

    // MARK: endings

    /// Answers with an error page after the answers already under way, then closes.
    private func reject(_ code: Int, _ reason: String, _ message: String, extra: String = "") {
        guard let context, !closing else { return }
        pendingHead = nil
        guard outstanding.isEmpty else {
            // Answers under way come first; nothing after this request is read.
            pendingReject = (code, reason, message, extra)
            inbound = nil
            upstream?.channel.flush()
            return
        }
        closing = true
        let page = EntrypointHandler.page(code, reason, message, extra: extra)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: page))).whenComplete { _ in channel.close(promise: nil) }
        if let up = upstream {
            upstream = nil
            up.channel.close(promise: nil)
        }
    }

    /// Every answer is delivered: close after the queued bytes.
    private func finishPublic() {
        guard let context, !closing else { return }
        closing = true
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in channel.close(promise: nil) }
        if let up = upstream {
            upstream = nil
            up.channel.close(promise: nil)
        }
    }

    private func fail(_ reason: String) {
        guard let context, !closing else { return }
        logger.debug("http entrypoint: closing", metadata: ["client": "\(client ?? "")", "reason": "\(reason)"])
        closing = true
        context.close(promise: nil)
        if let up = upstream {
            upstream = nil
            up.channel.close(promise: nil)
        }
    }

    /// The request head as sent to the origin: the client's `X-Forwarded-For` extended with the
    /// client's address, `X-Forwarded-Proto` set by the relay (a client's own is dropped).
    static func forwardedHead(_ head: HTTPFraming.Head, clientIP: String?, proto: String = "http", allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: head.length + 80)
        var chain: [String] = []
        if head.forwardedFor.isEmpty && head.forwardedProto.isEmpty {
            // Every line is kept (the usual case): the head up to its final CRLF in one copy.
            var lines = head.bytes.getSlice(at: head.bytes.readerIndex, length: head.length - 2)!
            out.writeBuffer(&lines)
        } else {
            for index in head.lineRanges.indices {
                if head.forwardedFor.contains(index) {
                    chain.append(head.value(ofLine: index))
                    continue
                }
                if head.forwardedProto.contains(index) { continue }
                var line = head.line(index)
                out.writeBuffer(&line)
                out.writeStaticString("\r\n")
            }
        }
        if let clientIP { chain.append(clientIP) }
        if !chain.isEmpty {
            out.writeStaticString("X-Forwarded-For: ")
            for (k, hop) in chain.enumerated() {
                if k > 0 { out.writeStaticString(", ") }
                out.writeString(hop)
            }
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("X-Forwarded-Proto: ")
        out.writeString(proto)
        out.writeStaticString("\r\n\r\n")
        return out
    }
}
