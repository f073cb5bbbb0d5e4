import Metrics
import NIOCore

/// The relay's traffic as Prometheus metrics, per tunnel and per hostname:
///
/// - `StreamMetrics` (`tunnel_streams_open`, `tunnel_streams_total`, `tunnel_bytes_total`), for
///   the streams to the tunnel's agents: a TLS passthrough, TCP or rtcp connection one for the
///   whole connection; HTTP requests one per visitor connection and tunnel while the local
///   service keeps it alive (h2 reuses idle ones the same way).
/// - `tunnel_http_requests_total{tunnel, host, class}` (counter): HTTP answers (HTTP/1 and h2)
///   by status class `1xx` ... `5xx` (a request that got none counts `5xx`).
/// - `tunnel_http_request_duration_seconds` (histogram): from the request head to the end of
///   the answer.
/// - `tunnel_stream_open_duration_seconds` (histogram): from asking a session for a stream to
///   the stream being ready (retries on other sessions included).
///
/// Tunnels and hostnames beyond `metrics.maxHostnames` distinct values are `other`
/// (`BoundedLabel`). Every metric object is made when first needed, not here: the relay builds
/// this before `-metrics` installs the backend, and objects made before would stay no-ops.
package final class RelayMetrics: Sendable {
    /// Streams and bytes per tunnel.
    package let streams: StreamMetrics
    private let tunnels: BoundedLabel
    private let hosts: BoundedLabel
    private let requests: MetricCache<Counter>
    private let durations: MetricCache<Timer>

    /// - Parameters:
    ///   - limit: tunnels, and hostnames, with a label value of their own (default:
    ///     `metrics.maxHostnames`).
    ///   - factory: the metrics backend; the process's unless a test brings its own.
    package init(limit: Int? = nil, factory: (any MetricsFactory)? = nil) {
        streams = StreamMetrics(limit: limit, factory: factory)
        tunnels = BoundedLabel(limit: limit)
        hosts = BoundedLabel(limit: limit)
        requests = MetricCache { key in
            Counter(
                label: "tunnel_http_requests_total", dimensions: [("tunnel", key[0]), ("host", key[1]), ("class", key[2])],
                factory: factory ?? MetricsSystem.factory)
        }
        durations = MetricCache { key in Timer(label: key[0], factory: factory ?? MetricsSystem.factory) }
    }

    /// An HTTP exchange of `tunnel` on `host` ended with `status` (nil: none came) after `duration`.
    package func answered(tunnel: String, host: String, status: Int?, duration: TimeAmount) {
        requests(tunnels.fold(tunnel), hosts.fold(Self.hostname(host)), Self.statusClass(status)).increment()
        durations("tunnel_http_request_duration_seconds").recordNanoseconds(max(duration.nanoseconds, 0))
    }

    /// A stream to an agent took `duration` to open.
    package func streamOpened(after duration: TimeAmount) {
        durations("tunnel_stream_open_duration_seconds").recordNanoseconds(max(duration.nanoseconds, 0))
    }

    /// The hostname of a `Host` value: lowercased, without a port (`[v6]` literals keep their
    /// brackets), so `App.test:8080` and `app.test` are one series.
    package static func hostname(_ host: String) -> String {
        var name = Substring(host)
        if name.hasPrefix("["), let end = name.firstIndex(of: "]") {
            name = name[...end]
        } else if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }) {
            name = name[..<colon]
        }
        return name.contains(where: \.isUppercase) ? name.lowercased() : String(name)
    }

    /// `1xx` ... `5xx`; no status or one out of range is `5xx` (the visitor got no good answer).
    package static func statusClass(_ status: Int?) -> String {
        guard let status, (100...599).contains(status) else { return "5xx" }
        return "\(status / 100)xx"
    }
}
