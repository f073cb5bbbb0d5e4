import NIOCore

/// The receive side of a stream's flow control, with auto-tuning. Pure value.
///
/// Why auto-tune: a fixed small window caps a stream at window/RTT (frp's yamux gave 10–15 Mbit/s
/// on long links); a fixed large one lets every idle stream pin megabytes. The window starts at
/// 256 KiB and doubles, up to `maxSize`, each time the reader consumes half a window in less than two
/// round trips — that is, when the window and not the reader is the bottleneck. A reader that stops
/// consuming grants nothing, so the peer can never have more than the window in flight.
struct MuxReceiveWindow: Hashable, Sendable {
    /// The current window size: the most the peer may have sent but we have not yet granted back.
    private(set) var size: Int
    /// Bytes the peer may still send before it must wait for a WINDOW_UPDATE.
    private(set) var available: Int
    /// Bytes delivered to the application but not yet granted back.
    private(set) var unacknowledged: Int = 0
    /// Upper bound of `size`.
    let maxSize: Int
    private var lastUpdate: NIODeadline?

    init(initial: Int = MuxProtocol.initialStreamWindow, maxSize: Int) {
        self.size = initial
        self.available = initial
        self.maxSize = max(maxSize, initial)
    }

    /// The peer sent `count` bytes of DATA. Throws FLOW_CONTROL_ERROR past the window.
    mutating func receive(_ count: Int) throws {
        guard count <= self.available else {
            throw MuxError(code: .flowControlError, reason: "peer sent \(count) bytes with \(self.available) of window left")
        }
        self.available -= count
    }

    /// The application consumed `count` bytes. Returns the WINDOW_UPDATE increment to send, if any,
    /// and by how much the window grew (which the session charges to its budget).
    ///
    /// - Parameters:
    ///   - rtt: the session's current RTT estimate (nil: unknown, no growth).
    ///   - growthBudget: how many more window bytes the session cap still allows.
    mutating func consume(_ count: Int, now: NIODeadline, rtt: TimeAmount?, growthBudget: Int) -> (increment: UInt32, grewBy: Int)? {
        self.unacknowledged += count
        guard self.unacknowledged >= self.size / 2 else { return nil }
        var grew = 0
        if let rtt, let last = self.lastUpdate, self.size < self.maxSize,
            now - last < rtt * 2
        {
            let target = min(self.size * 2, self.maxSize)
            grew = min(target - self.size, max(growthBudget, 0))
            self.size += grew
        }
        self.lastUpdate = now
        let increment = self.unacknowledged + grew
        self.unacknowledged = 0
        self.available += increment
        return (UInt32(increment), grew)
    }
}
