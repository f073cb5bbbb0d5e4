import NIOCore
import Operations

/// Where the relay's data paths report what they carry: per-tunnel totals (always) and the
/// request inspector (when on). One object handed to every entrypoint, like the visitor gate.
public final class RelayObservers: Sendable {
    public let traffic: TunnelTraffic
    public let inspector: RequestInspector?

    public init(traffic: TunnelTraffic = TunnelTraffic(), inspector: RequestInspector? = nil) {
        self.traffic = traffic
        self.inspector = inspector
    }

    /// What an ingress keeps of each request beyond the counters.
    var capture: HTTPExchange.Capture? { inspector?.isEnabled == true ? inspector?.defaultCapture : nil }

    /// A request's answer is complete.
    func finished(_ exchange: HTTPExchange, client: String?, now: NIODeadline) {
        traffic.answered(exchange, now: now)
        inspector?.record(exchange, client: client, finished: now)
    }
}
