import NIOCore
import NIOHPACK

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
        case openUpstream(tunnel: String, host: String, upstream: RuleOptions.UpstreamProtocol)
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
    }

    /// Where a host's requests go.
    struct Route: Equatable {
        var tunnel: String
        var upstream: RuleOptions.UpstreamProtocol
        /// Added to final responses unless the origin set them (HSTS).
        var responseHeaders: [HTTPIngressStateMachine.AddedHeader] = []
    }

    enum State: Equatable {
        /// The request head has not arrived yet.
        case waitingForHead
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
    let route: (String) -> Route?

    private(set) var state = State.waitingForHead
    private var queued: [HTTP2StreamPart] = []
    private var addedHeaders: [HTTPIngressStateMachine.AddedHeader] = []
    private(set) var requestEnded = false
    private var responseStarted = false
    private var clientWritable = true
    private var upstreamWritable = true
    private var readPending = false
    /// Since when the visitor's stream has not taken what is written to it.
    private var unwritableSince: NIODeadline?
    private var out: [Action] = []

    init(clientIP: String?, proto: String = "https", idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, route: @escaping (String) -> Route?) {
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

    mutating func clientPart(_ part: HTTP2StreamPart) -> [Action] {
        if part.endsMessage { requestEnded = true }
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
            guard let route = route(host) else {
                answer(404, "Not Found", "no tunnel serves host \(host)")
                break
            }
            addedHeaders = route.responseHeaders
            queued = [.head(HTTP2HeaderMapping.forwardedRequest(headers, clientIP: clientIP, proto: proto), end: end)]
            state = .opening
            out.append(.openUpstream(tunnel: route.tunnel, host: host, upstream: route.upstream))
        case .opening:
            queued.append(part)
        case .open:
            out.append(.writeUpstream(part))
        case .answered, .finished:
            break
        }
        return actions()
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

    mutating func upstreamUnavailable(host: String) -> [Action] {
        guard state == .opening else { return [] }
        queued = []
        answer(503, "Service Unavailable", "the tunnel for \(host) is offline", extra: [("retry-after", "5")])
        return actions()
    }

    mutating func upstreamOpenFailed(host: String) -> [Action] {
        guard state == .opening else { return [] }
        queued = []
        answer(502, "Bad Gateway", "the tunnel for \(host) cannot be reached")
        return actions()
    }

    // MARK: the upstream

    mutating func upstreamPart(_ part: HTTP2StreamPart) -> [Action] {
        guard state == .open else { return [] }
        switch part {
        case .head(let headers, let end):
            let interim = headers.first(name: ":status")?.hasPrefix("1") ?? false
            if !interim { responseStarted = true }
            deliver(.head(HTTP2HeaderMapping.response(headers, adding: addedHeaders), end: end))
        case .body, .trailers:
            deliver(part)
        }
        return actions()
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
        case .opening, .answered, .finished: return false
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
    }

    /// Answers with the relay's own page, unless an answer already started (then: reset).
    private mutating func answer(_ code: Int, _ reason: String, _ message: String, extra: [(String, String)] = []) {
        if state == .open { out.append(.closeUpstream) }
        guard !responseStarted else {
            state = .finished
            out.append(.resetClient)
            return
        }
        state = .answered
        let (head, body) = HTTP2HeaderMapping.page(code, reason, message, extra: extra)
        out.append(.writeClient(.head(HTTP2HeaderMapping.response(head, adding: addedHeaders), end: false), thenReset: false))
        out.append(.writeClient(.body(body, end: true), thenReset: !requestEnded))
        out.append(.flushClient)
    }
}
