import NIOCore
import Shared

/// The `http1` upstreams of one visitor h2 connection that finished an exchange and may carry
/// the next request for their tunnel: a Mux stream whose local HTTP/1.1 connection is kept alive,
/// as the HTTP/1 ingress keeps one per visitor connection. Without it every h2 request would cost
/// a Mux stream and a new connection to the local service.
///
/// Lives on the visitor connection's loop (its streams share it). A stream whose exchange ended
/// puts its upstream here at once (so the connection's very next request finds it) and tells the
/// upstream, which stays only after a complete exchange with a keep-alive answer; a stream that
/// takes one must still `claim` it on the upstream's loop, which fails if it did not stay or closed
/// meanwhile (then the stream takes another, or opens a new one). Bounded by `maxIdle`; everything
/// idle is closed with the visitor's connection.
final class HTTP2UpstreamPool {
    struct Idle {
        let handler: CrossLoopRef<HTTP2UpstreamHandler>
        let serial: Int
    }

    /// Idle upstreams kept per visitor connection (one per stream that may run at once is plenty).
    static let maxIdle = 32

    private var idle: [String: [Idle]] = [:]
    private var count = 0
    private var nextSerial = 0
    private var closed = false

    /// A serial for a new upstream, so a stale removal never takes out another's entry.
    func serial() -> Int {
        nextSerial += 1
        return nextSerial
    }

    /// Takes the most recently used idle upstream of `tunnel`, if any.
    func take(tunnel: String) -> Idle? {
        guard var list = idle[tunnel], let last = list.popLast() else { return nil }
        idle[tunnel] = list.isEmpty ? nil : list
        count -= 1
        return last
    }

    /// An upstream finished its exchange and may carry another; false: not kept (closed pool, or
    /// full), the caller closes it.
    func put(tunnel: String, _ entry: Idle) -> Bool {
        guard !closed, count < Self.maxIdle else { return false }
        idle[tunnel, default: []].append(entry)
        count += 1
        return true
    }

    /// An idle upstream closed (the local service ended the keep-alive connection).
    func remove(tunnel: String, serial: Int) {
        guard var list = idle[tunnel], let index = list.firstIndex(where: { $0.serial == serial }) else { return }
        list.remove(at: index)
        idle[tunnel] = list.isEmpty ? nil : list
        count -= 1
    }

    /// The visitor's connection is gone: every idle upstream is closed, and none is kept again.
    func close() {
        closed = true
        for list in idle.values {
            for entry in list { entry.handler.close() }
        }
        idle = [:]
        count = 0
    }
}
