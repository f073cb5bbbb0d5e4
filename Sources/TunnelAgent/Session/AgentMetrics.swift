import Metrics
import NIOCore
import Operations

/// The agent's metrics (the Mux ones, `tunnel_mux_*`, come from `MuxMetrics`):
///
/// - `StreamMetrics` (`tunnel_streams_open`, `tunnel_streams_total`, `tunnel_bytes_total`):
///   streams the relay opened to each tunnel, and their bytes (`in`: towards the local service).
/// - `tunnel_agent_sessions` (gauge): sessions to the relay registered and up now.
/// - `tunnel_agent_registrations_total{result}` (counter): attempts to attach, `ok`, `refused`
///   (the relay said no), `error` (dial, TLS or transport failure; no answer in time).
/// - `tunnel_agent_reconnects_total` (counter): attempts after a slot's first (the session
///   ended, went away, or an attempt failed).
/// - `tunnel_agent_dial_duration_seconds` (histogram): connecting to a tunnel's local service.
/// - `tunnel_agent_dial_errors_total{tunnel}` (counter): local services that could not be reached.
///
/// One per process (`shared`); every metric object is made when first used, after `-metrics`
/// installed the backend.
final class AgentMetrics: Sendable {
    static let shared = AgentMetrics()

    enum Registration: String {
        case ok, refused, error
    }

    let streams = StreamMetrics()
    private let tunnels = BoundedLabel()
    private let registrations = MetricCache<Counter> { key in Counter(label: "tunnel_agent_registrations_total", dimensions: [("result", key[0])]) }
    private let dialErrors = MetricCache<Counter> { key in Counter(label: "tunnel_agent_dial_errors_total", dimensions: [("tunnel", key[0])]) }
    private let unlabeled = MetricCache<Counter> { key in Counter(label: key[0]) }
    private let meters = MetricCache<Meter> { key in Meter(label: key[0]) }
    private let timers = MetricCache<Timer> { key in Timer(label: key[0]) }

    func registered(_ result: Registration) {
        registrations(result.rawValue).increment()
    }

    func reconnecting() {
        unlabeled("tunnel_agent_reconnects_total").increment()
    }

    /// The gauge of registered sessions.
    var sessions: Meter { meters("tunnel_agent_sessions") }

    func dialed(after duration: TimeAmount) {
        timers("tunnel_agent_dial_duration_seconds").recordNanoseconds(max(duration.nanoseconds, 0))
    }

    func dialFailed(tunnel: String) {
        dialErrors(tunnels.fold(tunnel)).increment()
    }
}
