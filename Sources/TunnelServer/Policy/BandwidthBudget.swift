import NIOConcurrencyHelpers
import NIOCore

/// One tunnel's bandwidth, shared by every connection of the tunnel and both directions: a token
/// bucket of bytes, refilled at `limit.bytesPerSecond` up to `limit.burst`.
///
/// The limit is an aggregate on purpose. A limiter per connection (GOST's, go-gost/gost#646) gives
/// two downloads twice the limit, and a visitor opening more connections gets more bandwidth; here
/// every byte of the tunnel is drawn from one bucket.
///
/// It only ever says how long to wait, never holds bytes: the reader that spent them pauses its next
/// read for that long (`BandwidthPacer`), and backpressure does the rest (the socket's receive
/// window fills, the sender slows). Bytes already read are always accepted, even past the bucket
/// (debt), so one read is never split or held; the debt is paid by a longer pause.
public final class BandwidthBudget: Sendable {
    public let limit: BandwidthLimit

    private struct State {
        /// Bytes that may be read now without a pause; negative when in debt.
        var tokens: Double
        /// Nanoseconds (NIODeadline's uptime) when `tokens` was last brought up to date.
        var updated: Int64?
    }
    private let state: NIOLockedValueBox<State>

    public init(_ limit: BandwidthLimit) {
        self.limit = limit
        self.state = NIOLockedValueBox(State(tokens: Double(limit.burst), updated: nil))
    }

    public convenience init(bytesPerSecond: Int, burst: Int? = nil) {
        self.init(BandwidthLimit(bytesPerSecond: bytesPerSecond, burst: burst))
    }

    /// Draws `bytes` just read from the budget; how long the reader should wait before reading
    /// again (zero while within the budget).
    public func spend(_ bytes: Int, now: NIODeadline = .now()) -> TimeAmount {
        let nanos = now.uptimeNanoseconds > UInt64(Int64.max) ? Int64.max : Int64(now.uptimeNanoseconds)
        let burst = Double(limit.burst)
        let rate = Double(limit.bytesPerSecond)
        let debt: Double = state.withLockedValue { s in
            if let updated = s.updated, nanos > updated {
                s.tokens = min(burst, s.tokens + Double(nanos - updated) * rate / 1e9)
            }
            if s.updated.map({ nanos > $0 }) ?? true { s.updated = nanos }
            s.tokens -= Double(max(0, bytes))
            return -s.tokens
        }
        guard debt > 0 else { return .zero }
        return .nanoseconds(Int64((debt * 1e9 / rate).rounded(.up)))
    }

    /// Makes one read of `channel` take at most about a burst's worth of bytes (one message of at
    /// most `burst` bytes, clamped to 4–256 KiB). Pacing holds back read *requests*; without this
    /// one request may bring several full buffers (up to 1 MiB with the relay's usual socket
    /// tuning), and the last such read of a transfer would pass unpaced. Call on the channel's loop.
    public static func boundReads(of channel: Channel, to budgets: [BandwidthBudget]) {
        guard let smallest = budgets.map(\.limit.burst).min(), let options = channel.syncOptions else { return }
        let slice = min(max(smallest, 4096), 256 * 1024)
        try? options.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
        try? options.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: min(2048, slice), maximum: slice))
    }
}
