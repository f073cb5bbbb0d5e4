import Logging
import NIOCore

/// A Mux session: many streams and datagrams over one transport channel (TCP in tests, TLS in the
/// product). Thread-safe handle; the work happens in a `MuxSessionHandler` on the channel's event
/// loop.
///
/// Create one with ``MuxSession/configure(on:role:configuration:logger:inboundStreamInitializer:datagramHandler:)``
/// or, on the event loop, ``NIOCore/ChannelPipeline/SynchronousOperations/addMuxSession(role:configuration:logger:inboundStreamInitializer:datagramHandler:)``.
public final class MuxSession: Sendable {
    /// The transport channel the session runs on.
    public let channel: Channel
    /// Which side this is (decides stream-ID parity).
    public let role: MuxRole
    private let handler: NIOLoopBound<MuxSessionHandler>
    private let stats: MuxLockedValue<MuxSessionStats>

    /// Succeeds when the session sends or receives its first GOAWAY (with who sent it, the code
    /// and the reason); fails with `MuxError.sessionClosed` when the session ends without one.
    /// Completes before `closeFuture`, while open streams may still be draining.
    public let goAwayFuture: EventLoopFuture<MuxGoAway>

    /// What a peer-opened stream runs before it becomes active: add handlers; fail to refuse the
    /// stream (the peer sees RESET with STREAM_REJECTED). Gets the stream and its OPEN metadata.
    public typealias InboundStreamInitializer = @Sendable (Channel, ByteBuffer) -> EventLoopFuture<Void>
    /// Called on the event loop for each received datagram, with its flow ID and payload.
    public typealias DatagramHandler = @Sendable (_ flowID: UInt32, _ payload: ByteBuffer) -> Void

    fileprivate init(channel: Channel, role: MuxRole, handler: MuxSessionHandler, stats: MuxLockedValue<MuxSessionStats>) {
        self.channel = channel
        self.role = role
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.stats = stats
        self.goAwayFuture = handler.goAwayPromise.futureResult
    }

    /// The transport's event loop; every stream channel uses it too.
    public var eventLoop: EventLoop { self.channel.eventLoop }

    /// Completes when the transport channel is closed.
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// Streams open now, both directions (for least-streams load balancing).
    public var openStreamCount: Int { self.stats.withLockedValue { $0.openStreams } }

    /// Streams opened over the session's life, by either side.
    public var streamsTotal: Int { self.stats.withLockedValue { $0.streamsTotal } }

    /// DATA payload bytes received and sent over the session's life.
    public var byteCounts: (received: Int, sent: Int) { self.stats.withLockedValue { ($0.bytesIn, $0.bytesOut) } }

    /// Smoothed round-trip time from keepalive and explicit pings; nil before the first pong.
    public var smoothedRTT: TimeAmount? { self.stats.withLockedValue { $0.smoothedRTT } }

    /// Datagrams dropped so far (too large, or the transport was backed up).
    public var droppedDatagramCount: Int { self.stats.withLockedValue { $0.droppedDatagrams } }

    /// True once a GOAWAY was sent or received: no new streams.
    public var isGoingAway: Bool { self.stats.withLockedValue { $0.isGoingAway } }

    /// True once the session has ended.
    public var isClosed: Bool { self.stats.withLockedValue { $0.isClosed } }

    /// Adds a session to `channel`'s pipeline from any thread. Only safe before the channel has read
    /// anything (bytes read before the session is added are lost, and the peer's preface with
    /// them): prefer `addMuxSession` in the bootstrap's channel initializer. The channel must keep
    /// `autoRead` on: the session reads continuously, streams apply backpressure through windows.
    public static func configure(
        on channel: Channel,
        role: MuxRole,
        configuration: MuxConfiguration = MuxConfiguration(),
        logger: Logger = Logger(label: "mux"),
        inboundStreamInitializer: @escaping InboundStreamInitializer,
        datagramHandler: DatagramHandler? = nil
    ) -> EventLoopFuture<MuxSession> {
        channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addMuxSession(
                role: role,
                configuration: configuration,
                logger: logger,
                inboundStreamInitializer: inboundStreamInitializer,
                datagramHandler: datagramHandler
            )
        }
    }

    /// Opens a stream. The OPEN frame is written at once and data may follow immediately: no round
    /// trip. `initializer` runs (on the event loop) before the channel becomes active; add your
    /// handlers there. Callable from any thread.
    public func openStream(
        metadata: ByteBuffer,
        initializer: (@Sendable (Channel) -> EventLoopFuture<Void>)? = nil
    ) -> EventLoopFuture<Channel> {
        let promise = self.eventLoop.makePromise(of: Channel.self)
        self.onLoop { handler in
            handler.openStream(
                metadata: metadata,
                initializer: initializer ?? { stream in stream.eventLoop.makeSucceededVoidFuture() },
                promise: promise
            )
        }
        return promise.futureResult
    }

    /// Sends one datagram on `flowID` (a label the application chooses, e.g. one per UDP flow).
    /// Never waits for stream windows; dropped (and counted) when larger than the datagram limit or
    /// when the transport is backed up. Callable from any thread.
    public func sendDatagram(flowID: UInt32, _ payload: ByteBuffer) {
        self.onLoop { $0.sendDatagram(flowID: flowID, payload: payload) }
    }

    /// Stops new streams in both directions and closes the session once the open ones finished.
    public func goAway(code: MuxErrorCode = .noError, reason: String = "") {
        self.onLoop { $0.goAway(code: code, reason: reason) }
    }

    /// Measures one round trip to the peer.
    public func ping() -> EventLoopFuture<TimeAmount> {
        let promise = self.eventLoop.makePromise(of: TimeAmount.self)
        self.onLoop { $0.sendPing(promise: promise) }
        return promise.futureResult
    }

    /// Closes the transport at once; open streams end with `MuxError.sessionClosed`.
    public func close() -> EventLoopFuture<Void> {
        self.onLoop { $0.close() }
        return self.closeFuture
    }

    private func onLoop(_ body: @escaping @Sendable (MuxSessionHandler) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.handler.value)
        } else {
            let handler = self.handler
            self.eventLoop.execute { body(handler.value) }
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds a Mux session to this (event-loop-confined) pipeline and returns its handle.
    public func addMuxSession(
        role: MuxRole,
        configuration: MuxConfiguration = MuxConfiguration(),
        logger: Logger = Logger(label: "mux"),
        inboundStreamInitializer: @escaping MuxSession.InboundStreamInitializer,
        datagramHandler: MuxSession.DatagramHandler? = nil
    ) throws -> MuxSession {
        let stats = MuxLockedValue(MuxSessionStats())
        let handler = MuxSessionHandler(
            role: role,
            configuration: configuration,
            logger: logger,
            stats: stats,
            goAwayPromise: self.eventLoop.makePromise(of: MuxGoAway.self),
            inboundStreamInitializer: inboundStreamInitializer,
            datagramHandler: datagramHandler
        )
        do {
            try self.addHandler(handler)
        } catch {
            handler.goAwayPromise.fail(error)
            throw error
        }
        let channel = try self.context(handler: handler).channel
        return MuxSession(channel: channel, role: role, handler: handler, stats: stats)
    }
}
