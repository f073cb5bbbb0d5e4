import NIOCore
import Operations
import Shared

/// Follows the HTTP/1 exchanges of one tunnel stream from copies of its bytes, for the agent's
/// request inspector: requests are what the relay sends down the stream, answers what the local
/// service sends back. Pure (bytes in, finished `HTTPExchange`s out), so it is tested with byte
/// scripts alone; `StreamTapHandler` feeds it.
///
/// Never in the way: it only reads copies, and at the first thing it cannot follow (TLS
/// passthrough, raw TCP, a malformed head, an upgrade, more pipelined requests than it keeps) it
/// stops observing for good and drops what it holds. Bounded: per direction at most one
/// incomplete head (`HTTPFraming.maxHead`, plus the read it arrived with) or one chunk-size line
/// is held, and at most `maxPending` requests wait for their answers.
struct StreamExchangeTap {
    /// Requests waiting for answers beyond which a stream is no longer followed.
    static let maxPending = 32

    let tunnel: String
    /// The host the relay says the visitor asked for, when a head has none (HTTP/1.0).
    let host: String?
    let capture: HTTPExchange.Capture?

    /// False once the stream is not followed any more (not HTTP, or lost track).
    private(set) var observing = true

    private enum Phase {
        case head
        case body(HTTPFraming.Body)
    }

    // The request side.
    private var requestPhase = Phase.head
    /// Unconsumed request bytes: an incomplete head or chunk-size line.
    private var requestCarry: ByteBuffer?
    /// The request whose body is being read.
    private var inRequest: HTTPExchange?
    /// Its answer already began (an early answer): its remaining body bytes are only framed.
    private var inRequestAnswered = false
    /// A request asked to switch protocols: nothing more is read until its answer says whether.
    private var awaitingUpgradeAnswer = false
    /// Requests read whole, waiting for their answers, oldest first.
    private var waiting = CircularBuffer<HTTPExchange>()

    // The answer side.
    private var responsePhase = Phase.head
    private var responseCarry: ByteBuffer?
    /// The exchange whose answer is being read, and its request's method.
    private var answering: HTTPExchange?

    init(tunnel: String, host: String?, capture: HTTPExchange.Capture?) {
        self.tunnel = tunnel
        self.host = host
        self.capture = capture
    }

    /// Bytes the relay sent towards the service (a copy). `now` stamps a request that starts.
    mutating func requestBytes(_ bytes: ByteBuffer, now: NIODeadline) {
        guard observing, bytes.readableBytes > 0 else { return }
        if awaitingUpgradeAnswer {
            // Bytes after an upgrade request before its answer: another protocol, likely.
            stop()
            return
        }
        var data = Self.joined(&requestCarry, bytes)
        do {
            while observing, data.readableBytes > 0, !awaitingUpgradeAnswer {
                switch requestPhase {
                case .head:
                    guard let head = try HTTPFraming.parseHead(data, isRequest: true) else {
                        requestCarry = data
                        return
                    }
                    data.moveReaderIndex(forwardBy: head.length)
                    startRequest(head, now: now)
                case .body(var body):
                    let (count, done) = try body.advance(data.readableBytesView, from: data.readableBytesView.startIndex)
                    let slice = data.readSlice(length: count)!
                    if !inRequestAnswered { inRequest?.requestBody(slice) }
                    if done {
                        requestPhase = .head
                        finishRequest()
                    } else {
                        requestPhase = .body(body)
                        if data.readableBytes > 0 {
                            // A partial chunk-size line: kept until the rest comes.
                            requestCarry = data
                            return
                        }
                    }
                }
            }
            if awaitingUpgradeAnswer && data.readableBytes > 0 { stop() }
        } catch {
            stop()
        }
    }

    /// Bytes the service sent back (a copy); returns the exchanges whose answers completed.
    mutating func responseBytes(_ bytes: ByteBuffer, now: NIODeadline) -> [HTTPExchange] {
        guard observing, bytes.readableBytes > 0 else { return [] }
        var finished: [HTTPExchange] = []
        var data = Self.joined(&responseCarry, bytes)
        do {
            while observing, data.readableBytes > 0 {
                switch responsePhase {
                case .head:
                    guard let head = try HTTPFraming.parseHead(data, isRequest: false) else {
                        responseCarry = data
                        return finished
                    }
                    data.moveReaderIndex(forwardBy: head.length)
                    if let done = startAnswer(head) { finished.append(done) }
                case .body(var body):
                    let (count, done) = try body.advance(data.readableBytesView, from: data.readableBytesView.startIndex)
                    let slice = data.readSlice(length: count)!
                    answering?.responseBody(slice)
                    if done {
                        responsePhase = .head
                        if let exchange = answering.take() { finished.append(exchange) }
                    } else {
                        responsePhase = .body(body)
                        if data.readableBytes > 0 {
                            responseCarry = data
                            return finished
                        }
                    }
                }
            }
        } catch {
            stop()
        }
        return finished
    }

    /// The service ended its side (or the stream closed): an answer delimited by the close is
    /// complete; anything else in progress is dropped.
    mutating func responseEnded() -> HTTPExchange? {
        guard observing else { return nil }
        defer { stop() }
        if case .body(.untilClose) = responsePhase { return answering.take() }
        return nil
    }

    /// Stops following the stream and lets go of everything held.
    mutating func stop() {
        observing = false
        requestCarry = nil
        responseCarry = nil
        inRequest = nil
        answering = nil
        waiting.removeAll()
    }

    private mutating func startRequest(_ head: HTTPFraming.Head, now: NIODeadline) {
        var exchange = HTTPExchange(
            tunnel: tunnel, host: head.host ?? host ?? "", method: head.method, target: head.target, proto: head.http10 ? "HTTP/1.0" : "HTTP/1.1",
            started: now, capture: capture)
        if capture?.heads == true { exchange.requestHeaders = HTTPExchange.HeaderField.of(head) }
        inRequest = exchange
        inRequestAnswered = false
        let body = HTTPFraming.requestBody(head)
        if case .none = body {
            finishRequest()
        } else {
            requestPhase = .body(body)
        }
        if head.upgrade { awaitingUpgradeAnswer = true }
    }

    /// The request being read is complete: it waits for its answer (unless that already began).
    private mutating func finishRequest() {
        guard let exchange = inRequest.take() else { return }
        if inRequestAnswered { return }
        waiting.append(exchange)
        if waiting.count > Self.maxPending { stop() }
    }

    /// An answer's head; returns the exchange if the answer is complete with it.
    private mutating func startAnswer(_ head: HTTPFraming.Head) -> HTTPExchange? {
        if answering == nil {
            if let next = waiting.popFirst() {
                answering = next
            } else if let early = inRequest {
                // The service answered before the request's body was all sent (a 413, a 401).
                answering = early
                inRequestAnswered = true
            } else {
                // An answer to no request: not a stream this can follow.
                stop()
                return nil
            }
        }
        guard var exchange = answering else { return nil }
        // Interim answers (100 Continue, 103) precede the real one.
        if (100..<200).contains(head.status) && head.status != 101 { return nil }
        exchange.status = head.status
        if capture?.heads == true { exchange.responseHeaders = HTTPExchange.HeaderField.of(head) }
        let body = HTTPFraming.responseBody(head, method: exchange.method)
        switch body {
        case .raw:
            // Switched protocols (101, a CONNECT's 2xx): the exchange is done, the rest is not HTTP.
            answering = nil
            stop()
            return exchange
        case .none:
            answering = nil
            responsePhase = .head
            if awaitingUpgradeAnswer { awaitingUpgradeAnswer = false }
            return exchange
        default:
            answering = exchange
            responsePhase = .body(body)
            if awaitingUpgradeAnswer { awaitingUpgradeAnswer = false }
            return nil
        }
    }

    /// `carry` (taken) followed by `bytes`: one buffer to parse from.
    private static func joined(_ carry: inout ByteBuffer?, _ bytes: ByteBuffer) -> ByteBuffer {
        guard var held = carry.take() else { return bytes }
        var more = bytes
        held.writeBuffer(&more)
        return held
    }
}
