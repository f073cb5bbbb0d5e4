import NIOCore

/// Which end of the transport connection a session is. Both ends may open streams; the role only
/// decides stream-ID parity (initiator: odd, responder: even) so that IDs never collide.
public enum MuxRole: Sendable, Hashable {
    /// The side that dialed the transport connection (the agent). Opens odd stream IDs.
    case initiator
    /// The side that accepted it (the relay). Opens even stream IDs.
    case responder
}

/// Tunables of one session. Defaults suit a tunnel over a long, fast link.
///
/// Why a value type: it is copied into the session at creation and can be built from config files
/// on any thread.
public struct MuxConfiguration: Sendable {
    /// The receive window a stream grows to at most while its reader keeps up (auto-tuning starts
    /// at `MuxProtocol.initialStreamWindow`, 256 KiB). 16 MiB sustains ~1.3 Gbit/s at 100 ms RTT.
    public var maxStreamWindow: Int = 16 * 1024 * 1024
    /// The cap on the sum of all streams' receive windows: auto-tuning stops growing windows beyond
    /// it, bounding the bytes peers may make this session buffer (each stream keeps at least the
    /// initial 256 KiB).
    public var maxSessionWindow: Int = 64 * 1024 * 1024
    /// Streams open at once in each direction; the peer's extra opens are refused with
    /// REFUSED_STREAM, local extra opens fail with `MuxError.tooManyStreams`.
    public var maxConcurrentStreams: Int = 1024
    /// The largest frame payload we accept (announced in our preface). 16 KiB ... 16 MiB - 1.
    public var maxFrameSize: Int = 64 * 1024
    /// The largest OPEN metadata blob, in bytes, accepted and sent.
    public var maxMetadataSize: Int = 4096
    /// The largest datagram payload accepted and sent (bigger ones are dropped). Must not exceed
    /// `maxFrameSize` and should not exceed the peer's.
    public var maxDatagramSize: Int = 65535
    /// Interval of keepalive PINGs sent while the peer is silent (nil: no keepalive, no dead-peer
    /// detection).
    public var keepaliveInterval: TimeAmount? = .seconds(15)
    /// The session is closed when nothing at all was received from the peer for this long.
    public var deadPeerTimeout: TimeAmount = .seconds(45)
    /// A stream channel becomes unwritable when more than `high` bytes wait for window or for the
    /// transport, and writable again below `low`.
    public var streamWriteBufferWaterMark: ChannelOptions.Types.WriteBufferWaterMark = .init(low: 32 * 1024, high: 64 * 1024)
    /// How long a go-away waits for open streams to finish before closing the session anyway
    /// (nil: wait forever).
    public var goAwayDrainTimeout: TimeAmount? = nil
    /// Told of round trips and stream windows (metrics); nil: nobody.
    public var observer: (any MuxObserver)? = nil

    /// Flood protection threshold (see `docs/mux.md` § Limits); internal so tests can lower it.
    var maxReactiveFramesWhileBackedUp = 10_000
    /// How much read-buffer capacity payloads waiting for slow readers may keep alive, over the
    /// whole session and per stream, before waiting payloads are copied into buffers of their own
    /// (see `MuxStreamChannel`); internal so tests can lower them. A stream's share is what lets a
    /// bulk reader a few frames behind go uncopied; the per-stream bound keeps one slow reader
    /// near its window (a slow HTTP download grew the relay by up to 60 MB with the session bound
    /// alone).
    var maxPinnedReadCapacity = 64 * 1024 * 1024
    var maxPinnedReadCapacityPerStream = 8 * 1024 * 1024

    public init() {}

    /// Limits clamped to what the protocol can express.
    var normalized: MuxConfiguration {
        var c = self
        c.maxFrameSize = min(max(c.maxFrameSize, MuxProtocol.minMaxFrameSize), MuxProtocol.maxMaxFrameSize)
        c.maxStreamWindow = min(max(c.maxStreamWindow, MuxProtocol.initialStreamWindow), MuxProtocol.maxWindow)
        c.maxSessionWindow = max(c.maxSessionWindow, MuxProtocol.initialStreamWindow)
        c.maxConcurrentStreams = max(c.maxConcurrentStreams, 1)
        c.maxMetadataSize = min(max(c.maxMetadataSize, 0), c.maxFrameSize)
        c.maxDatagramSize = min(max(c.maxDatagramSize, 0), c.maxFrameSize)
        return c
    }
}
