import Logging
import NIOCore

@testable import TunnelServer

/// Drives an `HTTPIngressStateMachine` with bytes and events, the way `HTTPIngressHandler` does,
/// and renders the actions it returns as short strings, so a test reads as a script:
/// `up:` and `client:` are bytes written to the stream and to the client, `page:` the status line
/// of an error page sent before closing.
struct HTTPIngressScript {
    typealias Action = HTTPIngressStateMachine.Action

    static let idle = TimeAmount.seconds(75)
    static let head = TimeAmount.seconds(10)

    var machine: HTTPIngressStateMachine
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    var nextStream = 0

    /// `routes`: hostname → tunnel, as the directory's rules would answer.
    init(routes: [String: String] = ["a.test": "ta", "b.test": "tb"], clientIP: String? = "192.0.2.1") {
        machine = HTTPIngressStateMachine(
            idleTimeout: Self.idle, headTimeout: Self.head, client: "192.0.2.1:5000", clientIP: clientIP, logger: Logger(label: "test"),
            now: now, route: { routes[$0] })
    }

    mutating func start() -> [String] { Self.render(machine.start(now: now)) }
    mutating func client(_ text: String) -> [String] { Self.render(machine.clientRead(ByteBuffer(string: text), now: now)) }
    mutating func clientEnds() -> [String] { Self.render(machine.clientInputClosed(now: now)) }
    mutating func clientGone() -> [String] { Self.render(machine.clientInactive()) }
    mutating func clientWritable(_ w: Bool) -> [String] { Self.render(machine.clientWritabilityChanged(w, now: now)) }
    mutating func read() -> [String] { Self.render(machine.readRequested()) }
    mutating func timer() -> [String] { Self.render(machine.timerFired(now: now)) }
    mutating func removed() -> [String] { Self.render(machine.removed()) }

    /// The stream asked for opens; its ID is returned in `nextStream`.
    mutating func opened() -> [String] {
        nextStream += 1
        return Self.render(machine.streamOpened(id: nextStream, now: now))
    }

    mutating func unavailable() -> [String] { Self.render(machine.streamUnavailable()) }
    mutating func openFailed() -> [String] { Self.render(machine.streamOpenFailed(ScriptError())) }
    mutating func failure(_ reason: String) -> [String] { Self.render(machine.failure(reason)) }
    mutating func origin(_ text: String, stream: Int? = nil) -> [String] {
        Self.render(machine.upstreamRead(stream ?? nextStream, ByteBuffer(string: text), now: now))
    }
    mutating func originWritable(_ w: Bool, stream: Int? = nil) -> [String] {
        Self.render(machine.upstreamWritabilityChanged(stream ?? nextStream, w, now: now))
    }
    mutating func originEnds(stream: Int? = nil) -> [String] { Self.render(machine.upstreamInputEnded(stream ?? nextStream, now: now)) }
    mutating func originGone(stream: Int? = nil) -> [String] { Self.render(machine.upstreamClosed(stream ?? nextStream, now: now)) }

    mutating func wait(_ amount: TimeAmount) { now = now + amount }

    /// The head the origin receives for `requestLine` to `host`, with the relay's headers.
    static func forwarded(_ requestLine: String, host: String, extra: String = "", clientIP: String = "192.0.2.1") -> String {
        "up:\(requestLine)\r\nHost: \(host)\r\n\(extra)X-Forwarded-For: \(clientIP)\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: \(host)\r\n"
            + "Forwarded: for=\(clientIP);host=\"\(host)\";proto=http\r\n\r\n"
    }

    static func render(_ actions: [Action]) -> [String] {
        actions.map { action in
            switch action {
            case .writeUpstream(let b): return "up:" + String(buffer: b)
            case .writeClient(let b): return "client:" + String(buffer: b)
            case .respondAndClose(let b): return "page:" + (String(buffer: b).components(separatedBy: "\r\n").first ?? "")
            case .flushUpstream: return "flushUp"
            case .closeUpstreamOutput: return "closeUpOutput"
            case .closeUpstream(let id): return "closeUp(\(id))"
            case .openStream(let tunnel, let host, _): return "open(\(tunnel),\(host))"
            case .verify(let check): return "verify(\(check.label))"
            case .adoptOpenedStream: return "adopt"
            case .discardOpenedStream: return "discard"
            case .startReadingUpstream: return "startReadingUp"
            case .setUpstreamPartnerWritable(let w): return "upPartnerWritable(\(w))"
            case .flushClient: return "flushClient"
            case .readClient: return "read"
            case .closeClientAfterFlush: return "finish"
            case .closeClient: return "close"
            case .closeClientOutput: return "closeClientOutput"
            case .scheduleTimer(let d): return "timer(+\((d.uptimeNanoseconds - 1_000_000_000_000) / 1_000_000_000)s)"
            case .handOver(let b): return "handOver:" + String(buffer: b)
            case .exchangeFinished(let e): return "exchange(\(e.method) \(e.target) \(e.status.map { "\($0)" } ?? "-") up=\(e.requestBytes) down=\(e.responseBytes))"
            }
        }
    }
}

struct ScriptError: Error {}
