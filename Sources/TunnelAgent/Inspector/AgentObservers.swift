import NIOConcurrencyHelpers
import NIOCore
import Operations
import TunnelProtocol

/// What the agent's admin API shows, gathered where the agent's data paths report it: its live
/// relay sessions, each tunnel's totals, and the request inspector's ring. One object shared by
/// the tunnel client (which reports) and the API (which reads).
///
/// Streams are tapped only once something can show what the tap sees (`activate()`, when the
/// admin API starts): an agent without `--inspect` or `-api` pays nothing per stream.
public final class AgentObservers: Sendable {
    public let traffic: TunnelTraffic
    public let inspector: RequestInspector
    /// Every live session to the relay, draining ones included.
    public let sessions = LiveSessions()
    private let active = NIOLockedValueBox(false)

    public init(traffic: TunnelTraffic = TunnelTraffic(), inspector: RequestInspector) {
        self.traffic = traffic
        self.inspector = inspector
    }

    /// Starts tapping streams (and keeping requests, unless the inspector keeps none).
    public func activate() {
        active.withLockedValue { $0 = true }
        inspector.enable()
    }

    /// Whether new streams are tapped.
    public var isActive: Bool { active.withLockedValue { $0 } }

    /// What the tap keeps of each request of `tunnel` beyond the counters; nil: only counted.
    func capture(for tunnel: String) -> HTTPExchange.Capture? {
        inspector.isEnabled ? inspector.capture(for: tunnel) : nil
    }

    /// A request's answer is complete.
    func finished(_ exchange: HTTPExchange, client: String?, now: NIODeadline) {
        if let status = exchange.status { traffic.answered(tunnel: exchange.tunnel, status: status) }
        inspector.record(exchange, client: client, finished: now)
    }
}
