import NIOCore
import NIOHTTP1

/// Every decision of the HTTP proxy's client-facing side, kept apart from the channel it runs on.
///
/// Why a pure machine: the proxy's rules (one exchange at a time, keep-alive, pipelined requests
/// waiting unread, CONNECT, 407, the client's half-close) used to live in flags spread over the
/// handler's callbacks, where a combination nobody had thought of could leave a connection hanging.
/// Here each state says what each event does, and tests drive it byte for byte without sockets.
/// `HTTPProxyServerHandler` turns NIO callbacks into these events and carries out the actions, in
/// the style of NIOSOCKS's `ServerStateMachine` and hummingbird's `HTTPConnectionStateHandler`.
///
/// Bounds: parts arrive only from reads this machine allowed (`readRequested`); while an exchange
/// is being set up or answered, reads are held, so the queue holds at most what one read decoded.
struct HTTPProxyServerStateMachine {
    /// Where the client connection stands.
    enum State: Equatable {
        /// Between exchanges: the next request head starts one.
        case idle
        /// An absolute-form request's origin is being dialled; its rewritten head waits to go.
        case connecting(Request)
        /// A CONNECT's target is being dialled.
        case connectingTunnel(HostPort)
        /// The request is being read and forwarded; the origin may already be answering.
        case forwardingRequest(Exchange)
        /// The whole request went to the origin; its response is being relayed.
        case awaitingResponse(Exchange)
        /// The origin answered before the request ended: the rest of the request is still read (and
        /// forwarded while the origin connection is kept) before the next exchange may start.
        case finishingRequest
        /// The client connection is being closed after an answer; input is dropped. `draining`: the
        /// rest of a request the client is still sending is read and dropped, so that unread bytes do
        /// not turn the close into a reset that could destroy the answer.
        case closing(draining: Bool)
        /// The connection carries a CONNECT tunnel; the handler has left the pipeline.
        case tunnelled
        /// The client connection is gone.
        case closed
    }

    /// An absolute-form request whose origin connection is being set up.
    struct Request: Equatable {
        var target: HostPort
        /// The head as the origin gets it (origin-form path, proxy headers dropped).
        var head: HTTPRequestHead
        var keepAlive: Bool
    }

    /// The exchange in progress: what the client asked for its connection, and whether any of the
    /// response has been written (after which an error can no longer be answered with a page).
    struct Exchange: Equatable {
        var keepAlive: Bool
        var responseStarted = false
    }

    /// The origin connection kept for the client, as far as decisions need it.
    struct Upstream: Equatable {
        var target: HostPort
        /// The origin allowed another request on it (its last response head said keep-alive).
        var reusable: Bool
        /// Mirrors the channel's writability; reads from the client wait while it is false.
        var writable: Bool
    }

    /// A request part read while an exchange is busy, waiting its turn.
    enum Part: Equatable {
        case head(HTTPRequestHead, authorized: Bool)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
        /// The decoder failed here; nothing after it will arrive.
        case malformed(HTTPParserError)

        /// Nothing more of the current request follows this part.
        var endsRequest: Bool {
            switch self {
            case .end, .malformed: return true
            case .head, .body: return false
            }
        }
    }

    /// What the handler does, in order.
    enum Action: Equatable {
        /// Sends a request part to the kept origin connection.
        case forward(HTTPClientRequestPart)
        /// Writes a response part to the client; `.end` is flushed and remembered as the last write.
        case write(HTTPServerResponsePart)
        /// Dials the origin of an absolute-form request, then reports `upstreamConnected`/`upstreamFailed`.
        case dial(HostPort)
        /// Dials a CONNECT target, then reports `tunnelConnected`/`upstreamFailed`.
        case dialTunnel(HostPort)
        /// Keeps the origin connection that was just reported connected.
        case adoptConnection
        /// Closes the connection that was just reported connected: nobody waits for it any more.
        case discardConnection
        /// Answers 200 and glues the client to the tunnel just connected; replays the client's end of
        /// input to it when that came while dialling.
        case establishTunnel(replayInputClosed: Bool)
        /// Closes the kept origin connection.
        case closeUpstream
        /// Answers with an error page, then closes the client connection.
        case respond(Failure)
        /// Closes the client connection once the last response end written has gone out.
        case closeAfterResponses
        /// Closes the client connection now.
        case close
    }

    private(set) var state: State = .idle
    private(set) var upstream: Upstream?
    /// Parts read while busy (bounded: reads are held while this is not empty).
    private(set) var queue = CircularBuffer<Part>()
    /// The pipeline asked for a read that was held back; it goes once reading is allowed again.
    private(set) var readHeld = false
    /// The client ended its side: what it already sent is answered, then the connection closes.
    private(set) var inputClosed = false

    init() {}

    // MARK: requests from the client

    mutating func requestHead(_ head: HTTPRequestHead, authorized: Bool) -> [Action] {
        self.receive(.head(head, authorized: authorized))
    }

    mutating func requestBody(_ body: ByteBuffer) -> [Action] {
        self.receive(.body(body))
    }

    mutating func requestEnd(_ trailers: HTTPHeaders?) -> [Action] {
        self.receive(.end(trailers))
    }

    /// The request decoder failed; it decodes nothing further.
    mutating func requestMalformed(_ error: HTTPParserError) -> [Action] {
        self.receive(.malformed(error))
    }

    private mutating func receive(_ part: Part) -> [Action] {
        var actions: [Action] = []
        switch self.state {
        case .connecting, .connectingTunnel, .awaitingResponse:
            self.queue.append(part)
        case .idle, .forwardingRequest, .finishingRequest:
            self.queue.append(part)
            self.settle(&actions)
        case .closing(true):
            if part.endsRequest { self.state = .closing(draining: false) }
        case .closing(false), .tunnelled, .closed:
            break
        }
        return actions
    }

    /// Handles one part in a state that takes parts directly.
    private mutating func process(_ part: Part, _ actions: inout [Action]) {
        switch (self.state, part) {
        case (.idle, .head(let head, let authorized)):
            self.startRequest(head, authorized: authorized, &actions)
        case (.idle, .malformed(let error)), (.finishingRequest, .malformed(let error)):
            self.answer(.malformed(error), draining: false, &actions)
        case (.forwardingRequest(let exchange), .malformed(let error)):
            if exchange.responseStarted {
                self.closeNow(&actions)
            } else {
                self.answer(.malformed(error), draining: false, &actions)
            }
        case (.forwardingRequest, .body(let body)):
            actions.append(.forward(.body(.byteBuffer(body))))
        case (.forwardingRequest(let exchange), .end(let trailers)):
            actions.append(.forward(.end(trailers)))
            self.state = .awaitingResponse(exchange)
        case (.finishingRequest, .body(let body)):
            if self.upstream != nil { actions.append(.forward(.body(.byteBuffer(body)))) }
        case (.finishingRequest, .end(let trailers)):
            if self.upstream != nil { actions.append(.forward(.end(trailers))) }
            self.state = .idle
        case (.idle, .body), (.idle, .end), (.forwardingRequest, .head), (.finishingRequest, .head):
            // The decoder never frames requests like this; nothing sensible can follow.
            self.closeNow(&actions)
        default:
            preconditionFailure("parts are processed only while idle or reading a request, not \(self.state)")
        }
    }

    private mutating func startRequest(_ head: HTTPRequestHead, authorized: Bool, _ actions: inout [Action]) {
        guard authorized else {
            self.answer(.authenticationRequired, draining: self.requestStillComing, &actions)
            return
        }
        if head.method == .CONNECT {
            guard let target = try? HostPort(parsing: head.uri), !target.host.isEmpty, target.port > 0 else {
                self.answer(.connectTargetInvalid, draining: self.requestStillComing, &actions)
                return
            }
            // A tunnel replaces the HTTP exchange for good: an origin kept from earlier goes.
            self.dropUpstream(&actions)
            self.state = .connectingTunnel(target)
            actions.append(.dialTunnel(target))
            return
        }
        guard let (target, path) = Self.parseAbsolute(head.uri) else {
            self.answer(.notAbsoluteForm, draining: self.requestStillComing, &actions)
            return
        }
        let forwarded = Self.originRequestHead(head, target: target, path: path)
        if let upstream, upstream.target == target {
            actions.append(.forward(.head(forwarded)))
            self.state = .forwardingRequest(Exchange(keepAlive: head.isKeepAlive))
        } else {
            self.dropUpstream(&actions)
            self.state = .connecting(Request(target: target, head: forwarded, keepAlive: head.isKeepAlive))
            actions.append(.dial(target))
        }
    }

    /// Whether more of the request being handled is still to be read from the client.
    private var requestStillComing: Bool {
        !self.inputClosed && !self.queue.contains(where: \.endsRequest)
    }

    // MARK: the origin connection

    /// The origin of an absolute-form request was reached (and its HTTP codec installed).
    mutating func upstreamConnected(writable: Bool) -> [Action] {
        guard case .connecting(let request) = self.state else { return [.discardConnection] }
        self.upstream = Upstream(target: request.target, reusable: true, writable: writable)
        self.state = .forwardingRequest(Exchange(keepAlive: request.keepAlive))
        var actions: [Action] = [.adoptConnection, .forward(.head(request.head))]
        self.settle(&actions)
        return actions
    }

    /// A CONNECT target was reached.
    mutating func tunnelConnected() -> [Action] {
        guard case .connectingTunnel = self.state else { return [.discardConnection] }
        self.state = .tunnelled
        self.queue.removeAll()
        return [.establishTunnel(replayInputClosed: self.inputClosed)]
    }

    /// Dialling (or setting up) the target failed.
    mutating func upstreamFailed(_ error: Error) -> [Action] {
        let target: HostPort
        switch self.state {
        case .connecting(let request): target = request.target
        case .connectingTunnel(let tunnelTarget): target = tunnelTarget
        default: return []
        }
        let timedOut = (error as? EngineError)?.kind == .timeout
        var actions: [Action] = []
        self.answer(.unreachable(target: target, reason: "\(error)", timedOut: timedOut), draining: self.requestStillComing, &actions)
        return actions
    }

    mutating func upstreamWritabilityChanged(writable: Bool) {
        self.upstream?.writable = writable
    }

    /// The kept origin connection closed. Before its response ended, the client must see an error,
    /// and a half-written response cannot be completed: its connection closes too.
    mutating func upstreamClosed() -> [Action] {
        guard self.upstream != nil else { return [] }
        self.upstream = nil
        switch self.state {
        case .forwardingRequest, .awaitingResponse:
            var actions: [Action] = []
            self.closeNow(&actions)
            return actions
        case .idle, .connecting, .connectingTunnel, .finishingRequest, .closing, .tunnelled, .closed:
            return []
        }
    }

    // MARK: responses from the origin

    mutating func responseHead(_ head: HTTPResponseHead) -> [Action] {
        switch self.state {
        case .forwardingRequest(var exchange):
            exchange.responseStarted = true
            self.state = .forwardingRequest(exchange)
            return self.relayHead(head, exchange)
        case .awaitingResponse(var exchange):
            exchange.responseStarted = true
            self.state = .awaitingResponse(exchange)
            return self.relayHead(head, exchange)
        default:
            return self.unexpectedResponse()
        }
    }

    private mutating func relayHead(_ head: HTTPResponseHead, _ exchange: Exchange) -> [Action] {
        self.upstream?.reusable = head.isKeepAlive
        return [.write(.head(Self.clientResponseHead(head, keepAlive: exchange.keepAlive)))]
    }

    mutating func responseBody(_ body: ByteBuffer) -> [Action] {
        switch self.state {
        case .forwardingRequest, .awaitingResponse:
            return [.write(.body(.byteBuffer(body)))]
        default:
            return self.unexpectedResponse()
        }
    }

    mutating func responseEnd(_ trailers: HTTPHeaders?) -> [Action] {
        let exchange: Exchange
        let requestDone: Bool
        switch self.state {
        case .forwardingRequest(let current): (exchange, requestDone) = (current, false)
        case .awaitingResponse(let current): (exchange, requestDone) = (current, true)
        default: return self.unexpectedResponse()
        }
        var actions: [Action] = [.write(.end(trailers))]
        guard exchange.keepAlive else {
            // The client asked for this to be the last exchange.
            self.dropUpstream(&actions)
            actions.append(.closeAfterResponses)
            self.queue.removeAll()
            self.state = .closing(draining: !requestDone && !self.inputClosed)
            return actions
        }
        if self.upstream?.reusable != true { self.dropUpstream(&actions) }
        self.state = requestDone ? .idle : .finishingRequest
        self.settle(&actions)
        return actions
    }

    /// A response part nobody asked for (or after the exchange's own response): the origin broke
    /// HTTP, so its connection goes; the client's connection is unaffected.
    private mutating func unexpectedResponse() -> [Action] {
        switch self.state {
        case .idle, .finishingRequest, .connecting, .connectingTunnel:
            var actions: [Action] = []
            self.dropUpstream(&actions)
            return actions
        case .forwardingRequest, .awaitingResponse, .closing, .tunnelled, .closed:
            return []
        }
    }

    // MARK: the client connection

    /// The pipeline asks for a read: true lets it go now, false holds it until reading is allowed.
    mutating func readRequested() -> Bool {
        switch self.state {
        case .tunnelled, .closed:
            return false
        default:
            if self.canRead { return true }
            self.readHeld = true
            return false
        }
    }

    /// After an event: true when a held read may go now (and is no longer held).
    mutating func releaseHeldRead() -> Bool {
        guard self.readHeld, self.canRead else { return false }
        self.readHeld = false
        return true
    }

    /// Reading is allowed when nothing waits in the queue and a part read now could be handled at
    /// once: between exchanges or within a request, and only while the origin takes what is sent.
    private var canRead: Bool {
        guard self.queue.isEmpty else { return false }
        switch self.state {
        case .idle, .forwardingRequest, .finishingRequest:
            return self.upstream?.writable ?? true
        case .closing(let draining):
            return draining
        case .connecting, .connectingTunnel, .awaitingResponse, .tunnelled, .closed:
            return false
        }
    }

    /// The client ended its side (the listener allows half-close, so its FIN arrives as this event,
    /// not as a closed channel): what it already asked for is answered, then both connections close;
    /// nothing else would ever close them.
    mutating func clientInputClosed() -> [Action] {
        var actions: [Action] = []
        switch self.state {
        case .tunnelled, .closed:
            return []
        case .closing:
            self.inputClosed = true
            self.state = .closing(draining: false)
        case .idle, .connecting, .connectingTunnel, .forwardingRequest, .awaitingResponse, .finishingRequest:
            self.inputClosed = true
            self.settle(&actions)
        }
        return actions
    }

    /// The client connection closed.
    mutating func clientClosed() -> [Action] {
        var actions: [Action] = []
        self.dropUpstream(&actions)
        self.queue.removeAll()
        self.state = .closed
        return actions
    }

    /// An error other than a malformed request: the connection cannot go on.
    mutating func clientFailed() -> [Action] {
        switch self.state {
        case .tunnelled, .closed:
            return []
        default:
            var actions: [Action] = []
            self.closeNow(&actions)
            return actions
        }
    }

    // MARK: shared steps

    /// Handles queued parts while the state takes them, then closes if the client has ended its side
    /// and nothing it sent is being set up or answered. A request it had not finished sending can no
    /// longer be, so it is not waited for.
    private mutating func settle(_ actions: inout [Action]) {
        while self.takesParts, let part = self.queue.popFirst() {
            self.process(part, &actions)
        }
        guard self.inputClosed, self.queue.isEmpty, self.takesParts else { return }
        self.dropUpstream(&actions)
        actions.append(.closeAfterResponses)
        self.state = .closing(draining: false)
    }

    private var takesParts: Bool {
        switch self.state {
        case .idle, .forwardingRequest, .finishingRequest: return true
        default: return false
        }
    }

    /// Answers with an error page; the client's other requests on this connection end.
    private mutating func answer(_ failure: Failure, draining: Bool, _ actions: inout [Action]) {
        self.queue.removeAll()
        self.state = .closing(draining: draining)
        actions.append(.respond(failure))
    }

    private mutating func closeNow(_ actions: inout [Action]) {
        self.queue.removeAll()
        self.state = .closing(draining: false)
        actions.append(.close)
    }

    private mutating func dropUpstream(_ actions: inout [Action]) {
        guard self.upstream != nil else { return }
        self.upstream = nil
        actions.append(.closeUpstream)
    }
}
