import Metrics
import NIOConcurrencyHelpers
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

    /// `service_http_requests_total{service, class}` (counter): HTTP answers by the service
    /// (entrypoint) that took the request, by status class. Services come from the config, so the
    /// label is bounded by it.
    private let serviceRequests = NIOLockedValueBox<[String: Counter]>([:])

    /// A request's answer is complete; `service` is the entrypoint that took it.
    func finished(_ exchange: HTTPExchange, client: String?, service: String? = nil, now: NIODeadline) {
        traffic.answered(exchange, now: now)
        inspector?.record(exchange, client: client, finished: now)
        if let service {
            let statusClass = RelayMetrics.statusClass(exchange.status)
            let key = service + "\u{0}" + statusClass
            let counter = serviceRequests.withLockedValue { table in
                if let c = table[key] { return c }
                let c = Counter(label: "service_http_requests_total", dimensions: [("service", service), ("class", statusClass)])
                table[key] = c
                return c
            }
            counter.increment()
        }
    }
}
