import Logging
import NIOCore
import Operations
import Shared

/// Every decision of the HTTP ingress, as a value: which request goes to which stream, when the
/// client is read, when a connection is answered with an error page or closed, and when its
/// timers are due. `HTTPIngressHandler` feeds it the connection's events (bytes from the client
/// or from the stream, half-closes, writability, timer ticks, a stream opened or not) and carries
/// out the actions it returns; nothing here touches a channel, so every transition is testable
/// with bytes alone (`HTTPIngressStateMachineTests`).
///
/// The rules (see `HTTPIngressHandler` for why): each request of a keep-alive connection is routed
/// by its own `Host`; consecutive requests for one tunnel share a stream; a request for another
/// tunnel waits until every earlier answer is complete, so answers come back in request order.
/// Heads and chunk-size lines are parsed (`HTTPFraming`), bodies pass through; after an upgrade
/// (101, or 2xx to CONNECT) both directions are raw.
struct HTTPIngressStateMachine {
    /// What the handler must do, in order.
    enum Action: Equatable {
        /// Write to the current stream (a request head or a slice of a body).
        case writeUpstream(ByteBuffer)
        case flushUpstream
        /// Half-close the current stream: the client ended its side of a raw connection.
        case closeUpstreamOutput
        /// Let go of stream `id` and close it; its later events are ignored.
        case closeUpstream(id: Int)
        /// Find a session of `tunnel` and open a stream for the waiting request (counted against
        /// the connection limit of `policy`); report back with `streamOpened`,
        /// `streamUnavailable`, `streamRefused` or `streamOpenFailed`.
        case openStream(tunnel: String, host: String, policies: [VisitorPolicy])
        /// Check a password off the event loop (`Admission.verify`); report back with
        /// `credentialsChecked`.
        case verify(CredentialCheck)
        /// Adopt the stream just opened as the current one (or close it: the connection is gone).
        case adoptOpenedStream
        case discardOpenedStream
        /// The stream may deliver its bytes from now on.
        case startReadingUpstream
        /// Pace the stream's reads by the client's writability.
        case setUpstreamPartnerWritable(Bool)
        /// Write to the client (a response head or a slice of a body).
        case writeClient(ByteBuffer)
        case flushClient
        /// Ask the client's channel for more bytes.
        case readClient
        /// Send this error page, then close.
        case respondAndClose(ByteBuffer)
        /// Close once what is queued for the client is written.
        case closeClientAfterFlush
        /// Close now.
        case closeClient
        /// Half-close towards the client (the origin ended its side of a raw connection).
        case closeClientOutput
        /// (Re)arm the connection's one timer; `timerFired` when it is due.
        case scheduleTimer(NIODeadline)
        /// Give the connection away (an agent's WebSocket on the relay's path): the handler leaves
        /// the pipeline and these bytes, the request and whatever followed it, go to the new owner.
        case handOver(ByteBuffer)
        /// A request's answer is complete (only while `observing`): count it, and keep it for the
        /// inspector.
        case exchangeFinished(HTTPExchange)
    }

    /// The stream a run of requests is carried on.
    struct Upstream: Equatable {
        let id: Int
        let tunnel: String
        var writable = true
        /// The origin said `Connection: close`: no further request may go to this stream.
        var reusable = true
    }

    /// Where a request goes: its tunnel and the policy of the rule that routed it.
    typealias Route = IngressRoute

    /// A request admitted (or being checked) and not yet sent on.
    struct PendingRequest: Equatable {
        var head: HTTPFraming.Head
        var route: Route
        var rewrite: RequestRewrite
        /// While credentials are checked: the answer if they are wrong.
        var refusal: Refusal? = nil
    }

    /// A request sent on whose answer has not completed.
    struct Outstanding: Equatable {
        var method: String
        /// The rule's edits of its answer's head.
        var response: HeaderEdits
        /// What is seen of it, while `observing`.
        var exchange: HTTPExchange?
    }

    /// An error page owed to the client once the answers before it are delivered.
    struct Page: Equatable {
        var code: Int
        var reason: String
        var message: String
        var extra: String
        /// A whole answer of the relay's own (ACME token, redirect) instead of an error page.
        var raw: ByteBuffer? = nil
    }

    /// What the relay answers itself for a request, before routing it (`reserved`).
    enum ReservedAnswer: Equatable {
        /// This whole HTTP answer (it says `Connection: close`), in its turn after earlier answers.
        case respond(ByteBuffer)
        /// The relay takes the connection from this request on (`handOver`), once no earlier answer
        /// is outstanding; a pipelined one is refused with 400.
        case takeOver
    }

    /// Requests sent ahead of their answers before the client is no longer read.
    static let maxPipelined = 32

    // MARK: configuration

    let idleTimeout: TimeAmount
    let headTimeout: TimeAmount
    /// The client's address, appended to `X-Forwarded-For`.
    let clientIP: String?
    /// The client's address and port, for logs.
    let client: String?
    /// What `X-Forwarded-Proto` says: `https` behind the relay's TLS termination.
    var scheme = "http"
    /// Added to every final response unless the origin set them (`clientHead`): HSTS on TLS the
    /// relay terminated.
    var responseHeaders: [AddedHeader] = []
    /// Requests the relay answers itself rather than routing them (ACME HTTP-01 tokens, the
    /// redirect to HTTPS), decided per request head; nil or a nil answer: routed as usual.
    var reserved: ((HTTPFraming.Head) -> ReservedAnswer?)?
    /// Where a request goes (the directory's ingress rules, by `Host` and path), nil: nowhere.
    let resolve: (HTTPFraming.Head) -> Route?
    /// The visitor gate's verdict on a routed request (`VisitorGate.admit`); nil: all pass.
    var admit: ((HTTPFraming.Head, Route) -> Admission)?
    /// Report each answered request (`exchangeFinished`): the relay counts them per tunnel.
    var observing = false
    /// What of each request the inspector keeps (heads, bodies); nil: counters only.
    var capture: HTTPExchange.Capture?
    let logger: Logger
    let allocator = ByteBufferAllocator()

    // MARK: state

    var lastActivity: NIODeadline
    /// When the client last sent a byte (or reading it resumed): a request body that stops
    /// arriving while it is being read is cut off after `idleTimeout` (nginx's client_body_timeout).
    var lastClientRead: NIODeadline
    /// Since when the client has not taken what is written to it: cut off after `idleTimeout`
    /// (nginx's send_timeout), so a client that never reads cannot hold the stream and the origin.
    var unwritableSince: NIODeadline?
    var clientWritable = true
    /// When the first byte of the head now being read arrived; nil between heads. The idle timer
    /// restarts on every byte, so without this a client dribbling a byte every few seconds would
    /// hold the connection forever (slowloris).
    var headStarted: NIODeadline?
    var timerDeadline: NIODeadline?

    var inbound: ByteBuffer?
    var requestBody: HTTPFraming.Body = .none
    /// A request whose stream is not ready: being opened, or earlier answers outstanding.
    var pendingHead: PendingRequest?
    /// A request whose credentials are being checked (`verify`): nothing after it is read.
    var verifying: PendingRequest?
    var opening: (tunnel: String, host: String)?
    var inputEnded = false
    var readPending = false
    var closing = false
    /// The client asked to close after its last request: nothing after it is read.
    var lastRequestSent = false
    var upstreamOutputClosed = false
    /// An upgrade (or CONNECT) was sent: nothing after it is parsed until its answer says whether
    /// the connection turns raw (101, or 2xx to CONNECT) or stays HTTP.
    var upgradePending = false
    var pendingReject: Page?

    var upstream: Upstream?
    /// The methods of the requests sent and not yet answered, oldest first.
    var outstanding = CircularBuffer<Outstanding>()
    var response: ByteBuffer?
    var responseBody: HTTPFraming.Body = .none

    /// The actions of the event being handled.
    var out: [Action] = []

    // The state is internal, not private, only so the rules (HTTPIngressStateMachine+Rules.swift)
    // can reach it; nothing outside this type touches it.

    init(
        idleTimeout: TimeAmount, headTimeout: TimeAmount, client: String?, clientIP: String?, logger: Logger, now: NIODeadline,
        resolve: @escaping (HTTPFraming.Head) -> Route?
    ) {
        self.idleTimeout = idleTimeout
        self.headTimeout = headTimeout
        self.client = client
        self.clientIP = clientIP
        self.logger = logger
        self.resolve = resolve
        self.lastActivity = now
        self.lastClientRead = now
    }

    /// Routed by `Host` alone to a tunnel ID, with no policy.
    init(
        idleTimeout: TimeAmount, headTimeout: TimeAmount, client: String?, clientIP: String?, logger: Logger, now: NIODeadline,
        route: @escaping (String) -> String?
    ) {
        self.init(idleTimeout: idleTimeout, headTimeout: headTimeout, client: client, clientIP: clientIP, logger: logger, now: now) { head in
            head.host.flatMap(route).map { Route(tunnel: $0) }
        }
    }

    mutating func emit(_ action: Action) {
        out.append(action)
    }

    private mutating func actions() -> [Action] {
        defer { out = [] }
        return out
    }

    // MARK: events of the client connection

    /// The handler is in place: the idle timer starts.
    mutating func start(now: NIODeadline) -> [Action] {
        scheduleTimer(at: now + idleTimeout)
        return actions()
    }

    /// The handler was removed: let go of the stream and of every buffered byte.
    mutating func removed() -> [Action] {
        timerDeadline = nil
        if let up = upstream {
            upstream = nil
            emit(.closeUpstream(id: up.id))
        }
        inbound = nil
        response = nil
        return actions()
    }

    mutating func clientRead(_ bytes: ByteBuffer, now: NIODeadline) -> [Action] {
        lastActivity = now
        lastClientRead = now
        // After a request that said `Connection: close` (and its body) nothing more is read.
        if lastRequestSent && requestBody == .none { return [] }
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
        } else {
            var bytes = bytes
            inbound!.writeBuffer(&bytes)
        }
        process(now: now)
        return actions()
    }

    /// The client half-closed its side.
    mutating func clientInputClosed(now: NIODeadline) -> [Action] {
        inputEnded = true
        process(now: now)
        return actions()
    }

    /// The client's connection is gone.
    mutating func clientInactive() -> [Action] {
        closing = true
        if let up = upstream {
            upstream = nil
            emit(.closeUpstream(id: up.id))
        }
        return actions()
    }

    mutating func clientWritabilityChanged(_ writable: Bool, now: NIODeadline) -> [Action] {
        clientWritable = writable
        if writable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = now
        }
        if upstream != nil { emit(.setUpstreamPartnerWritable(writable)) }
        return actions()
    }

    /// The pipeline asks for a read from the client: granted only while one may be taken.
    mutating func readRequested() -> [Action] {
        if canRead {
            emit(.readClient)
        } else {
            readPending = true
        }
        return actions()
    }

    /// Between requests (nothing outstanding, nothing being opened, not upgraded), a connection
    /// silent for `idleTimeout` is closed; one that started a head and did not finish it within
    /// `headTimeout` of its first byte (or went silent in it) gets 408. A request body that stops
    /// arriving, or a client that stops reading, is cut off after `idleTimeout`.
    mutating func timerFired(now: NIODeadline) -> [Action] {
        timerDeadline = nil
        guard !closing else { return [] }
        if requestBody != .none, requestBody != .raw, canRead, lastClientRead + idleTimeout <= now {
            logger.debug("http entrypoint: request body stalled", metadata: ["client": "\(client ?? "")"])
            fail("request body stalled")
            return actions()
        }
        if let since = unwritableSince, !clientWritable, since + idleTimeout <= now {
            logger.debug("http entrypoint: client stopped reading", metadata: ["client": "\(client ?? "")"])
            fail("client stopped reading")
            return actions()
        }
        let waiting = outstanding.isEmpty && opening == nil && pendingHead == nil && verifying == nil && requestBody == .none && responseBody == .none
        var due = lastActivity + idleTimeout
        if let started = headStarted { due = min(due, started + headTimeout) }
        guard waiting, due <= now else {
            scheduleTimer(at: waiting ? due : now + min(idleTimeout, headTimeout))
            return actions()
        }
        if (inbound?.readableBytes ?? 0) > 0 {
            logger.debug("http entrypoint: request head not completed in time", metadata: ["client": "\(client ?? "")"])
            reject(408, "Request Timeout", "the request head did not arrive in time")
        } else {
            logger.debug("http entrypoint: idle connection closed", metadata: ["client": "\(client ?? "")"])
            finishPublic()
        }
        return actions()
    }

    // MARK: opening a stream

    /// The stream asked for by `.openStream` is open, as `id`.
    mutating func streamOpened(id: Int, now: NIODeadline) -> [Action] {
        guard let (tunnel, _) = opening else { return [.discardOpenedStream] }
        opening = nil
        guard !closing, let pending = pendingHead else { return [.discardOpenedStream] }
        emit(.adoptOpenedStream)
        let up = Upstream(id: id, tunnel: tunnel)
        upstream = up
        upstreamOutputClosed = false
        pendingHead = nil
        // The public side's writability may have changed while the stream opened.
        emit(.setUpstreamPartnerWritable(clientWritable))
        send(pending, to: up)
        emit(.flushUpstream)
        emit(.startReadingUpstream)
        process(now: now)
        return actions()
    }

    /// The tunnel has no live session for the waiting request.
    mutating func streamUnavailable() -> [Action] {
        guard let (tunnel, host) = opening else { return [] }
        opening = nil
        logger.debug("http entrypoint: tunnel offline", metadata: ["tunnel": "\(tunnel)", "host": "\(host)"])
        reject(
            Refusal(
                status: 503, reason: "Service Unavailable", message: "the tunnel for \(host) is offline", headers: [.init(name: "Retry-After", value: "5")],
                page: pendingHead?.route.layers.errorPage(503)))
        return actions()
    }

    /// The tunnel is at its connection limit (the gate's `refusal`).
    mutating func streamRefused(_ refusal: Refusal) -> [Action] {
        guard opening != nil else { return [] }
        opening = nil
        reject(refusal)
        return actions()
    }

    /// The credentials of the request being checked are right (`ok`) or not.
    mutating func credentialsChecked(_ ok: Bool, now: NIODeadline) -> [Action] {
        guard let pending = verifying else { return [] }
        verifying = nil
        guard !closing else { return [] }
        if ok {
            forward(pending)
            if upstream != nil { emit(.flushUpstream) }
            process(now: now)
        } else if let refusal = pending.refusal {
            reject(refusal)
        }
        return actions()
    }

    /// Opening the stream failed (the agent refused it, the session went away).
    mutating func streamOpenFailed(_ error: any Error) -> [Action] {
        guard let (tunnel, host) = opening else { return [] }
        opening = nil
        guard !closing else { return [] }
        logger.info("http entrypoint: tunnel unreachable", metadata: ["tunnel": "\(tunnel)", "error": "\(error)"])
        reject(Refusal(status: 502, reason: "Bad Gateway", message: "the tunnel for \(host) cannot be reached", page: pendingHead?.route.layers.errorPage(502)))
        return actions()
    }

    /// Something the handler cannot go on from: close the connection.
    mutating func failure(_ reason: String) -> [Action] {
        fail(reason)
        return actions()
    }

    // MARK: events of the stream

    mutating func upstreamRead(_ id: Int, _ bytes: ByteBuffer, now: NIODeadline) -> [Action] {
        guard let up = upstream, up.id == id, !closing else { return [] }
        lastActivity = now
        if response == nil || response!.readableBytes == 0 {
            response = bytes
        } else {
            var bytes = bytes
            response!.writeBuffer(&bytes)
        }
        do {
            // Stop as soon as the stream is let go of (an answer completed and the connection
            // moved on): its further bytes must never reach the client as someone else's answer.
            while var buffer = response, buffer.readableBytes > 0, upstream?.id == id, !closing {
                if responseBody != .none {
                    let (count, done) = try responseBody.advance(buffer.readableBytesView, from: buffer.readerIndex)
                    if count > 0 {
                        let slice = buffer.readSlice(length: count)!
                        if observing, !outstanding.isEmpty { outstanding[outstanding.startIndex].exchange?.responseBody(slice) }
                        emit(.writeClient(slice))
                    }
                    response = buffer
                    if !done { break }
                    completeResponse(now: now)
                    continue
                }
                guard let request = outstanding.first else {
                    // Bytes nobody asked for: the origin is out of step with the requests.
                    logger.info("http entrypoint: the origin sent bytes nobody asked for", metadata: ["tunnel": "\(up.tunnel)"])
                    emit(.flushClient)
                    fail("unsolicited bytes from the origin")
                    return actions()
                }
                guard let head = try HTTPFraming.parseHead(buffer, isRequest: false) else { break }
                emit(.writeClient(clientHead(head, bytes: buffer.readSlice(length: head.length)!, edits: request.response)))
                response = buffer
                if head.status >= 100 && head.status < 200 && head.status != 101 { continue }  // interim
                if observing { answered(head) }
                if head.connectionClose { upstream?.reusable = false }
                let body = HTTPFraming.responseBody(head, method: request.method)
                if body == .raw {
                    // 101, or 2xx to CONNECT: only an upgrade request may be answered so.
                    guard upgradePending else {
                        fail("the origin switched protocols unasked")
                        return actions()
                    }
                    upgradePending = false
                    requestBody = .raw
                    responseBody = .raw
                    if observing { finishExchange() }
                    outstanding.removeAll()
                    process(now: now)
                    continue
                }
                if upgradePending {
                    // The origin declined the upgrade: the connection stays HTTP.
                    upgradePending = false
                    process(now: now)
                }
                responseBody = body
                if responseBody == .none { completeResponse(now: now) }
            }
        } catch {
            logger.info("http entrypoint: the origin's answer cannot be read", metadata: ["tunnel": "\(up.tunnel)", "error": "\(error)"])
            emit(.flushClient)
            fail("bad response")
        }
        return actions()
    }

    mutating func upstreamWritabilityChanged(_ id: Int, _ writable: Bool, now: NIODeadline) -> [Action] {
        guard upstream?.id == id else { return [] }
        upstream?.writable = writable
        resumeReading(now: now)
        return actions()
    }

    /// The origin finished sending (its half-close reached the stream).
    mutating func upstreamInputEnded(_ id: Int, now: NIODeadline) -> [Action] {
        guard upstream?.id == id, !closing else { return [] }
        if responseBody == .raw {
            // Spliced: the origin's half-close reaches the client; the client may still send.
            emit(.flushClient)
            if inputEnded {
                finishPublic()
            } else {
                emit(.closeClientOutput)
            }
            return actions()
        }
        upstreamEnded(now: now)
        return actions()
    }

    /// The stream ended (the origin closed, the agent or session went away).
    mutating func upstreamClosed(_ id: Int, now: NIODeadline) -> [Action] {
        guard upstream?.id == id, !closing else { return [] }
        upstreamEnded(now: now)
        return actions()
    }
}
