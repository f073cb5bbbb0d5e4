import NIOCore
import NIOHPACK
import Operations

/// Every decision about one visitor's h2 stream, as a value: routing its request by
/// `:authority`, carrying its parts to the upstream (a Mux stream of the tunnel) and the answer's
/// parts back, pacing both directions, and answering itself (error pages) when there is no
/// upstream. `HTTP2StreamHandler` feeds it the events of the visitor's stream and of the upstream
/// and carries out the actions; nothing here touches a channel (`HTTP2StreamStateMachineTests`).
///
/// Flow control: the visitor's stream is read only while the upstream is writable (and not at all
/// while the upstream is being opened, beyond the request head and what arrived with it), and the
/// upstream only while the visitor's stream is writable. An h2 stream that is not read sends no
/// WINDOW_UPDATE, so what the relay holds per stream is bounded by its stream window, and a slow
/// stream never holds up the others of its connection.
struct HTTP2StreamStateMachine {
    enum Action: Equatable {
        /// Open a stream of `tunnel` for this request, speaking `upstream` to the local service;
        /// report back with `upstreamOpened`, `upstreamUnavailable` or `upstreamOpenFailed`.
        case openUpstream(tunnel: String, host: String, upstream: RuleOptions.UpstreamProtocol, policies: [VisitorPolicy])
        /// Check a password off the event loop (`Admission.verify`); report back with
        /// `credentialsChecked`.
        case verify(CredentialCheck)
        case writeUpstream(HTTP2StreamPart)
        case flushUpstream
        /// The upstream may deliver its parts from now on.
        case startReadingUpstream
        /// Pace the upstream's reads by the visitor stream's writability.
        case setUpstreamPartnerWritable(Bool)
        /// Close the upstream (done with it, or the visitor went away).
        case closeUpstream
        /// The exchange is complete both ways: the upstream may carry another (kept alive).
        case releaseUpstream
        /// Write to the visitor's stream; `thenReset`: once written, reset the stream (the answer
        /// is complete but the visitor is still sending a request nobody will read).
        case writeClient(HTTP2StreamPart, thenReset: Bool)
        case flushClient
        case readClient
        /// Reset the visitor's stream now (the answer cannot be completed).
        case resetClient
        /// (Re)arm the stream's timer; `timerFired` when it is due.
        case scheduleTimer(NIODeadline)
        /// The answer is complete (only while `observing`): count it, keep it for the inspector.
        case exchangeFinished(HTTPExchange)
    }

    /// Where a host's requests go.
    struct Route: Equatable {
        var tunnel: String
        var upstream: RuleOptions.UpstreamProtocol
        /// Added to final responses unless the origin set them (HSTS).
        var responseHeaders: [HTTPIngressStateMachine.AddedHeader] = []
        /// The visitor policies that apply (`IngressRoute.layers`).
        var policies: [VisitorPolicy] = []
    }

    enum State: Equatable {
        /// The request head has not arrived yet.
        case waitingForHead
        /// The gate is checking the visitor's credentials (`verify`).
        case verifying
        case opening
        case open
        /// The relay answered itself; the upstream (if any) is gone.
        case answered
        /// Over: the answer is complete, or either side went away.
        case finished
    }

    let clientIP: String?
    /// What `X-Forwarded-Proto` says.
    let proto: String
    /// A visitor that takes nothing of an answer for this long has its stream reset (nginx's
    /// send_timeout, as the HTTP/1 ingress does), so it cannot hold an upstream forever.
    let idleTimeout: TimeAmount
    /// Where a request for a host and path goes (the directory's rules), nil: nowhere.
    let route: (_ host: String, _ path: String?) -> Route?
    /// The visitor gate's verdict on a routed request (`VisitorGate.admit`); nil: all pass.
    var admit: ((HPACKHeaders, Route) -> Admission)?
    /// Report the answered request (`exchangeFinished`), keeping what `capture` says.
    var observing = false
    var capture: HTTPExchange.Capture?
    /// What is seen of the request and its answer, while `observing`.
    private var exchange: HTTPExchange?

    private(set) var state = State.waitingForHead
    private var queued: [HTTP2StreamPart] = []
    private var addedHeaders: [HTTPIngressStateMachine.AddedHeader] = []
    /// The rule's edits of the answer's head.
    private var responseEdits = HeaderEdits.none
    /// While credentials are checked: the request's head, route and what a refusal answers.
    private var checking: (headers: HPACKHeaders, end: Bool, host: String, route: Route, check: CredentialCheck)?
    private(set) var requestEnded = false
    private var responseStarted = false
    private var clientWritable = true
    private var upstreamWritable = true
    private var readPending = false
    /// Since when the visitor's stream has not taken what is written to it.
    private var unwritableSince: NIODeadline?
    private var out: [Action] = []

    init(clientIP: String?, proto: String = "https", idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, route: @escaping (_ host: String, _ path: String?) -> Route?) {
        self.clientIP = clientIP
        self.proto = proto
        self.idleTimeout = idleTimeout
        self.route = route
    }

    private mutating func actions() -> [Action] {
        defer { out = [] }
        return out
    }

    // MARK: the visitor's stream

    mutating func clientPart(_ part: HTTP2StreamPart, now: NIODeadline = .now()) -> [Action] {
        if part.endsMessage { requestEnded = true }
        if case .body(let bytes, _) = part, exchange != nil, state == .open || state == .opening || state == .verifying { exchange?.requestBody(bytes) }
        switch state {
        case .waitingForHead:
            guard case .head(let headers, let end) = part else {
                answer(400, "Bad Request", "the request has no head")
                break
            }
            guard let host = HTTP2HeaderMapping.authority(headers) else {
                answer(400, "Bad Request", "the request names no host (:authority)")
                break
            }
            if headers.first(name: ":method") == "CONNECT" {
                // Plain and extended CONNECT (WebSocket over h2): the relay does not advertise
                // SETTINGS_ENABLE_CONNECT_PROTOCOL; WebSocket goes over HTTP/1.1.
                answer(501, "Not Implemented", "CONNECT is not supported over HTTP/2")
                break
            }
            guard let route = route(host, headers.first(name: ":path").map { String($0.prefix { $0 != "?" && $0 != "#" }) }) else {
                answer(404, "Not Found", "no tunnel serves host \(host)")
                break
            }
            addedHeaders = route.responseHeaders
            if observing {
                exchange = HTTPExchange(
                    tunnel: route.tunnel, host: host, method: headers.first(name: ":method") ?? "", target: headers.first(name: ":path") ?? "", proto: "h2",
                    started: now, capture: capture)
                if capture?.heads == true { exchange?.requestHeaders = Self.fields(headers) }
            }
            switch admit?(headers, route) ?? .pass(.none) {
            case .pass(let rewrite):
                open(headers, end: end, host: host, route: route, rewrite: rewrite)
            case .refuse(let refusal):
                answer(refusal)
            case .verify(let check):
                checking = (headers, end, host, route, check)
                state = .verifying
                out.append(.verify(check))
            }
        case .opening, .verifying:
            queued.append(part)
        case .open:
            out.append(.writeUpstream(part))
        case .answered, .finished:
            break
        }
        return actions()
    }

    /// The credentials of the request are right (`ok`) or not.
    mutating func credentialsChecked(_ ok: Bool) -> [Action] {
        guard state == .verifying, let c = checking else { return [] }
        checking = nil
        let body = queued
        queued = []
        if ok {
            open(c.headers, end: c.end, host: c.host, route: c.route, rewrite: c.check.rewrite)
            queued += body
        } else {
            answer(c.check.refusal)
        }
        return actions()
    }

    /// Queues the request as the local service gets it and asks for an upstream.
    private mutating func open(_ headers: HPACKHeaders, end: Bool, host: String, route: Route, rewrite: RequestRewrite) {
        responseEdits = rewrite.response
        queued = [.head(HTTP2HeaderMapping.forwardedRequest(headers, clientIP: clientIP, proto: proto, rewrite: rewrite), end: end)]
        state = .opening
        out.append(.openUpstream(tunnel: route.tunnel, host: host, upstream: route.upstream, policies: route.policies))
    }

    mutating func clientReadComplete() -> [Action] {
        if state == .open { out.append(.flushUpstream) }
        return actions()
    }

    /// The pipeline asks for a read of the visitor's stream: granted only while what it reads
    /// can go on at once.
    mutating func readRequested() -> [Action] {
        if canRead {
            out.append(.readClient)
        } else {
            readPending = true
        }
        return actions()
    }

    mutating func clientWritabilityChanged(_ writable: Bool, now: NIODeadline) -> [Action] {
        clientWritable = writable
        if state == .open { out.append(.setUpstreamPartnerWritable(writable)) }
        if writable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = now
            out.append(.scheduleTimer(now + idleTimeout))
        }
        return actions()
    }

    /// The visitor took nothing of the answer for `idleTimeout`: its stream is reset and the
    /// upstream let go of.
    mutating func timerFired(now: NIODeadline) -> [Action] {
        guard let since = unwritableSince, !clientWritable, state == .open || state == .answered else { return [] }
        guard since + idleTimeout <= now else {
            out.append(.scheduleTimer(since + idleTimeout))
            return actions()
        }
        if state == .open { out.append(.closeUpstream) }
        state = .finished
        out.append(.resetClient)
        return actions()
    }

    /// The visitor's stream is closed (ended both ways, or reset by the visitor).
    mutating func clientClosed() -> [Action] {
        if state == .open { out.append(.closeUpstream) }
        state = .finished
        return actions()
    }

    // MARK: opening the upstream

    mutating func upstreamOpened() -> [Action] {
        guard state == .opening else { return [.closeUpstream] }
        state = .open
        out.append(.setUpstreamPartnerWritable(clientWritable))
        for part in queued { out.append(.writeUpstream(part)) }
        queued = []
        out.append(.flushUpstream)
        out.append(.startReadingUpstream)
        resumeReading()
        return actions()
    }

    mutating func upstreamUnavailable(host: String, page: String? = nil) -> [Action] {
        guard state == .opening else { return [] }
        queued = []
        answer(503, "Service Unavailable", "the tunnel for \(host) is offline", extra: [("retry-after", "5")], page: page)
        return actions()
    }

    /// The tunnel is at its connection limit (the gate's `refusal`).
    mutating func upstreamRefused(_ refusal: Refusal) -> [Action] {
        guard state == .opening else { return [] }
        queued = []
        answer(refusal)
        return actions()
    }

    mutating func upstreamOpenFailed(host: String, page: String? = nil) -> [Action] {
        guard state == .opening else { return [] }
        queued = []
        answer(502, "Bad Gateway", "the tunnel for \(host) cannot be reached", page: page)
        return actions()
    }

    // MARK: the upstream

    mutating func upstreamPart(_ part: HTTP2StreamPart) -> [Action] {
        guard state == .open else { return [] }
        switch part {
        case .head(let headers, let end):
            let interim = headers.first(name: ":status")?.hasPrefix("1") ?? false
            if !interim {
                responseStarted = true
                exchange?.status = headers.first(name: ":status").flatMap { Int($0) }
                if capture?.heads == true { exchange?.responseHeaders = Self.fields(headers) }
            }
            deliver(.head(HTTP2HeaderMapping.response(headers, adding: addedHeaders, edits: responseEdits), end: end))
        case .body(let bytes, _):
            exchange?.responseBody(bytes)
            deliver(part)
        case .trailers:
            deliver(part)
        }
        return actions()
    }

    /// The non-pseudo fields of `headers`, for the inspector.
    static func fields(_ headers: HPACKHeaders) -> [HTTPExchange.HeaderField] {
        headers.filter { !$0.name.hasPrefix(":") }.map { HTTPExchange.HeaderField(name: $0.name, value: $0.value) }
    }

    mutating func upstreamReadComplete() -> [Action] {
        [.flushClient]
    }

    mutating func upstreamWritabilityChanged(_ writable: Bool) -> [Action] {
        upstreamWritable = writable
        resumeReading()
        return actions()
    }

    /// The upstream is gone: before the answer started, the visitor gets 502; in the middle of
    /// it, a reset (the answer is incomplete, and h2 can say so).
    mutating func upstreamClosed() -> [Action] {
        guard state == .open else { return [] }
        if !responseStarted {
            answer(502, "Bad Gateway", "the service behind the tunnel closed without answering")
        } else {
            state = .finished
            out.append(.flushClient)
            out.append(.resetClient)
        }
        return actions()
    }

    // MARK: rules

    private var canRead: Bool {
        switch state {
        case .waitingForHead: return true
        case .open: return upstreamWritable
        case .opening, .verifying, .answered, .finished: return false
        }
    }

    private mutating func resumeReading() {
        guard readPending, canRead else { return }
        readPending = false
        out.append(.readClient)
    }

    private mutating func deliver(_ part: HTTP2StreamPart) {
        guard part.endsMessage else {
            out.append(.writeClient(part, thenReset: false))
            return
        }
        state = .finished
        out.append(.writeClient(part, thenReset: !requestEnded))
        out.append(.flushClient)
        out.append(requestEnded ? .releaseUpstream : .closeUpstream)
        if let exchange {
            out.append(.exchangeFinished(exchange))
            self.exchange = nil
        }
    }

    /// Answers with the gate's refusal (or the rule's page for it).
    private mutating func answer(_ refusal: Refusal) {
        answer(refusal.status, refusal.reason, refusal.message, extra: refusal.headers.map { ($0.name.lowercased(), $0.value) }, page: refusal.page)
    }

    /// Answers with the relay's own page (or the rule's `page`), unless an answer already started
    /// (then: reset).
    private mutating func answer(_ code: Int, _ reason: String, _ message: String, extra: [(String, String)] = [], page: String? = nil) {
        if state == .open { out.append(.closeUpstream) }
        guard !responseStarted else {
            state = .finished
            out.append(.resetClient)
            return
        }
        state = .answered
        let (head, body) = HTTP2HeaderMapping.page(code, reason, message, extra: extra, body: page)
        out.append(.writeClient(.head(HTTP2HeaderMapping.response(head, adding: addedHeaders), end: false), thenReset: false))
        out.append(.writeClient(.body(body, end: true), thenReset: !requestEnded))
        out.append(.flushClient)
    }
}
