import NIOCore

/// Where a session reports measurements a metrics backend may want: round trips and the receive
/// windows streams reached.
///
/// Why a protocol here: Mux depends on NIO only; the relay and agent implement it with
/// swift-metrics (`MuxMetrics`) and hand it over in `MuxConfiguration.observer`. Called on the
/// session's event loop, so implementations must be cheap and must not block.
public protocol MuxObserver: Sendable {
    /// A PING was answered after `rtt` (keepalives and explicit pings alike).
    func roundTrip(_ rtt: TimeAmount)
    /// A stream ended; its receive window had auto-tuned to `receiveWindow` bytes.
    func streamEnded(receiveWindow: Int)
}
