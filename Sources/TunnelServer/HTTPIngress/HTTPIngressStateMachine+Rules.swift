import NIOCore
import Operations
import Shared

/// The rules the events apply: framing, routing, ordering, and how a connection ends.
extension HTTPIngressStateMachine {
    // MARK: the rules

    var canRead: Bool {
        !closing && opening == nil && pendingHead == nil && verifying == nil && pendingReject == nil && (!(lastRequestSent || upgradePending) || requestBody != .none)
            && outstanding.count < Self.maxPipelined
            && (upstream?.writable ?? true) && (inbound?.readableBytes ?? 0) <= HTTPFraming.maxHead
    }

    mutating func resumeReading(now: NIODeadline) {
        guard readPending, canRead else { return }
        readPending = false
        // The client's silence while it was not read is not its stall.
        lastClientRead = now
        emit(.readClient)
    }

    mutating func scheduleTimer(at deadline: NIODeadline) {
        timerDeadline = deadline
        emit(.scheduleTimer(deadline))
    }

    /// Frames what the client sent and passes it on, until a request must wait or bytes run out.
    mutating func process(now: NIODeadline) {
        guard !closing else { return }
        var wrote = false
        defer {
            if wrote, upstream != nil { emit(.flushUpstream) }
        }
        do {
            while var buffer = inbound, buffer.readableBytes > 0, pendingHead == nil, verifying == nil, opening == nil, pendingReject == nil,
                !((lastRequestSent || upgradePending) && requestBody == .none)
            {
                if requestBody != .none {
                    guard upstream != nil else { return fail("request body without a stream") }
                    let (count, done) = try requestBody.advance(buffer.readableBytesView, from: buffer.readerIndex)
                    if count > 0 {
                        let slice = buffer.readSlice(length: count)!
                        // The body belongs to the request sent last.
                        if observing, !outstanding.isEmpty { outstanding[outstanding.index(before: outstanding.endIndex)].exchange?.requestBody(slice) }
                        emit(.writeUpstream(slice))
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
                if let answer = reserved?(head) {
                    // The relay's own answer ends the connection: what the client sent after
                    // this request is not read (as after an error page).
                    switch answer {
                    case .respond(let bytes): reject(0, "", "", raw: bytes)
                    case .takeOver: takeOver(head)
                    }
                    return
                }
                guard head.host != nil, let route = resolve(head) else {
                    return reject(404, "Not Found", "no tunnel serves host \(head.host ?? "(none)")")
                }
                switch admit?(head, route) ?? .pass(.none) {
                case .pass(let rewrite):
                    wrote = forward(PendingRequest(head: head, route: route, rewrite: rewrite)) || wrote
                case .refuse(let refusal):
                    return reject(refusal)
                case .verify(let check):
                    // Nothing more is read or sent until the answer: requests stay in order.
                    verifying = PendingRequest(head: head, route: route, rewrite: check.rewrite, refusal: check.refusal)
                    emit(.verify(check))
                    return
                }
            }
        } catch let error as HTTPFraming.Error {
            if requestBody != .none { return rejectInsideBody(error) }
            let code = error.kind == .headTooLarge ? (431, "Request Header Fields Too Large") : (400, "Bad Request")
            return reject(code.0, code.1, "the request cannot be read: \(error)")
        } catch {
            return fail("\(error)")
        }
        if requestBody == .none, (inbound?.readableBytes ?? 0) > 0, pendingHead == nil, verifying == nil, !(lastRequestSent || upgradePending) {
            // Part of a head is here: its time runs from its first byte, however it trickles.
            if headStarted == nil {
                headStarted = now
                if (timerDeadline ?? .distantFuture) > now + headTimeout { scheduleTimer(at: now + headTimeout) }
            }
        } else {
            headStarted = nil
        }
        if inputEnded, requestBody == .none, pendingHead == nil, verifying == nil, opening == nil, outstanding.isEmpty, (inbound?.readableBytes ?? 0) > 0 {
            // The client ended its input inside a head, which can never complete now: close at
            // once rather than hold the socket (in CLOSE_WAIT) until a timer.
            return finishPublic()
        }
        if inputEnded, (inbound?.readableBytes ?? 0) == 0, pendingHead == nil, verifying == nil, opening == nil {
            if requestBody == .raw {
                // Spliced: the client's half-close reaches the origin.
                if upstream != nil, !upstreamOutputClosed {
                    upstreamOutputClosed = true
                    emit(.closeUpstreamOutput)
                }
            } else if requestBody != .none {
                // The client stopped in the middle of a body: the origin would wait forever.
                return fail("client ended its input inside a request body")
            } else if outstanding.isEmpty {
                // The client is done and every answer is delivered. (With answers outstanding,
                // the last one's completion closes the connection: an origin is not told of the
                // end early, since some abandon a request when their client half-closes.)
                return finishPublic()
            }
        }
        resumeReading(now: now)
    }

    /// The body of a request already sent on is malformed (a bad chunk-size line): the origin is
    /// waiting for a body whose end no one can find now. Its stream is reset at once (so it stops
    /// waiting) and the client gets 400 here, unless an earlier answer is already on its way
    /// (then the connection closes after what was delivered).
    mutating func rejectInsideBody(_ error: HTTPFraming.Error) {
        logger.debug("http entrypoint: malformed request body", metadata: ["client": "\(client ?? "")", "error": "\(error)"])
        let answerStarted = responseBody != .none || (response?.readableBytes ?? 0) > 0
        if let up = upstream { release(up) }
        requestBody = .none
        inbound = nil
        guard outstanding.count <= 1, !answerStarted else {
            emit(.flushClient)
            return fail("malformed request body after answers under way")
        }
        outstanding.removeAll()
        reject(400, "Bad Request", "the request body cannot be read: \(error)")
    }

    /// Sends an admitted request on: on the current stream when it serves the request's tunnel and
    /// may carry another, else once a stream of its tunnel is open (`startPending`). Whether it
    /// was written now.
    @discardableResult
    mutating func forward(_ request: PendingRequest) -> Bool {
        if let up = upstream, up.reusable, request.route.tunnel == up.tunnel {
            send(request, to: up)
            return true
        }
        pendingHead = request
        startPending()
        return false
    }

    /// Writes a request head, with the forwarding headers and the rule's rewrite, to its stream.
    mutating func send(_ request: PendingRequest, to up: Upstream) {
        let head = request.head
        emit(.writeUpstream(Self.forwardedHead(head, clientIP: clientIP, proto: scheme, rewrite: request.rewrite, allocator: allocator)))
        var exchange: HTTPExchange?
        if observing {
            exchange = HTTPExchange(
                tunnel: up.tunnel, host: head.host ?? "", method: head.method, target: head.target, proto: head.http10 ? "HTTP/1.0" : "HTTP/1.1",
                started: lastActivity, capture: capture)
            if capture?.heads == true { exchange?.requestHeaders = HTTPExchange.HeaderField.of(head) }
        }
        outstanding.append(Outstanding(method: head.method, response: request.rewrite.response, exchange: exchange))
        requestBody = HTTPFraming.requestBody(head)
        if head.upgrade {
            upgradePending = true
        } else if head.connectionClose {
            lastRequestSent = true
        }
    }

    /// Starts the waiting request once every earlier answer is complete: on a new stream of its
    /// tunnel, or answered here when it has none.
    mutating func startPending() {
        guard let pending = pendingHead, outstanding.isEmpty, opening == nil else { return }
        if let old = upstream {
            emit(.flushClient)
            release(old)
        }
        let host = pending.head.host ?? ""
        opening = (pending.route.tunnel, host)
        emit(.openStream(tunnel: pending.route.tunnel, host: host, policies: pending.route.layers))
    }

    /// Hands the connection over from `head` on: the stream of earlier requests is let go, and the
    /// head with every byte after it goes to the new owner. Only between answers: a request sent
    /// before the answers to earlier ones (pipelined) cannot take the connection, since those
    /// answers would be lost.
    mutating func takeOver(_ head: HTTPFraming.Head) {
        guard outstanding.isEmpty, opening == nil else {
            return reject(400, "Bad Request", "the relay's agent path takes a connection of its own, not a request pipelined behind others")
        }
        if let up = upstream { release(up) }
        closing = true
        var bytes = head.bytes
        if var rest = inbound { bytes.writeBuffer(&rest) }
        inbound = nil
        emit(.handOver(bytes))
    }

    /// Lets go of a stream: no more of its events count, and its answer state is reset.
    mutating func release(_ up: Upstream) {
        upstream = nil
        response = nil
        responseBody = .none
        emit(.closeUpstream(id: up.id))
    }

    /// The answer to the oldest outstanding request has this final head.
    mutating func answered(_ head: HTTPFraming.Head) {
        guard !outstanding.isEmpty else { return }
        let first = outstanding.startIndex
        outstanding[first].exchange?.status = head.status
        if capture?.heads == true { outstanding[first].exchange?.responseHeaders = HTTPExchange.HeaderField.of(head) }
    }

    /// The oldest outstanding request's answer is complete: report it.
    mutating func finishExchange() {
        if let exchange = outstanding.first?.exchange { emit(.exchangeFinished(exchange)) }
    }

    mutating func completeResponse(now: NIODeadline) {
        if observing { finishExchange() }
        _ = outstanding.popFirst()
        guard outstanding.isEmpty else { return resumeReading(now: now) }
        if let page = pendingReject {
            pendingReject = nil
            return reject(page.code, page.reason, page.message, extra: page.extra, raw: page.raw)
        }
        if lastRequestSent || (inputEnded && requestBody == .none && (inbound?.readableBytes ?? 0) == 0) {
            return finishPublic()
        }
        if let up = upstream, !up.reusable {
            // Closing a stream on this loop ends its read at once, before the read-complete that
            // would flush: flush what it delivered now.
            emit(.flushClient)
            release(up)
        }
        startPending()
        process(now: now)
    }

    mutating func upstreamEnded(now: NIODeadline) {
        guard let up = upstream else { return }
        emit(.flushClient)
        let wasRaw = responseBody == .raw
        let untilClose = responseBody == .untilClose
        let answerStarted = responseBody != .none || (response?.readableBytes ?? 0) > 0
        release(up)
        if wasRaw || untilClose {
            // An answer delimited by the close is complete now.
            if untilClose, observing { finishExchange() }
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
        resumeReading(now: now)
    }

    // MARK: endings

    /// Answers with the gate's (or a rule's) page after the answers already under way, then closes.
    mutating func reject(_ refusal: Refusal) {
        reject(refusal.status, refusal.reason, refusal.message, raw: refusal.http1)
    }

    /// Answers with an error page after the answers already under way, then closes.
    mutating func reject(_ code: Int, _ reason: String, _ message: String, extra: String = "", raw: ByteBuffer? = nil) {
        guard !closing else { return }
        pendingHead = nil
        guard outstanding.isEmpty else {
            // Answers under way come first; nothing after this request is read.
            pendingReject = Page(code: code, reason: reason, message: message, extra: extra, raw: raw)
            inbound = nil
            if upstream != nil { emit(.flushUpstream) }
            return
        }
        closing = true
        emit(.respondAndClose(raw ?? ByteBuffer(string: EntrypointHandler.page(code, reason, message, extra: extra))))
        if let up = upstream {
            upstream = nil
            emit(.closeUpstream(id: up.id))
        }
    }

    /// Every answer is delivered: close after the queued bytes.
    mutating func finishPublic() {
        guard !closing else { return }
        closing = true
        emit(.closeClientAfterFlush)
        if let up = upstream {
            upstream = nil
            emit(.closeUpstream(id: up.id))
        }
    }

    mutating func fail(_ reason: String) {
        guard !closing else { return }
        logger.debug("http entrypoint: closing", metadata: ["client": "\(client ?? "")", "reason": "\(reason)"])
        closing = true
        emit(.closeClient)
        if let up = upstream {
            upstream = nil
            emit(.closeUpstream(id: up.id))
        }
    }
}
