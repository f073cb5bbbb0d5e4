import Metrics
import Mux
import NIOConcurrencyHelpers
import NIOCore

/// The Mux measurements of relay–agent sessions as Prometheus histograms (the same names on the
/// relay and on the agent, each process exposing its own side):
///
/// - `tunnel_mux_rtt_seconds` (histogram): round trips of Mux PINGs (the first, sent at session
///   start, and keepalives while the peer is silent).
/// - `tunnel_mux_stream_window_bytes` (histogram): the receive window a stream had auto-tuned to
///   when it ended (256 KiB ... `maxStreamWindow`): how far flow control opened up.
///
/// Why here: Mux knows no metrics library; every tunnel session is configured from
/// `MuxConfiguration.tunnel`, which hands this observer to it. The metric objects are made at
/// the first sample, not here: configurations are built before `-metrics` installs the backend.
public final class MuxMetrics: MuxObserver {
    private struct Made {
        var rtt: Timer
        var window: Recorder
    }
    private let made = NIOLockedValueBox<Made?>(nil)

    public init() {}

    private var metrics: Made {
        made.withLockedValue { made in
            if let made { return made }
            let new = Made(rtt: Timer(label: "tunnel_mux_rtt_seconds"), window: Recorder(label: "tunnel_mux_stream_window_bytes", aggregate: true))
            made = new
            return new
        }
    }

    public func roundTrip(_ rtt: TimeAmount) {
        metrics.rtt.recordNanoseconds(rtt.nanoseconds)
    }

    public func streamEnded(receiveWindow: Int) {
        metrics.window.record(receiveWindow)
    }
}
