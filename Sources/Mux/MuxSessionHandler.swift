import Logging
import NIOCore

/// The `ChannelHandler` that runs a Mux session on its channel: decodes frames, owns the streams
/// (child channels), writes their frames, answers pings, keeps the session alive and drains it.
///
/// Why a handler beside a state machine: the decisions about the connection (which OPENs to
/// accept, which frames close the session, when to drain, when the peer is dead) are taken by
/// `MuxSessionStateMachine`, a pure value; this handler is the glue that turns NIO callbacks into
/// its events and carries out the actions it returns, and it keeps what is about I/O: the stream
/// channels, frame writing and flush coalescing, read bursts, timers and promises.
///
/// Loop-confined; the public, thread-safe face is `MuxSession`. Streams call into it directly (they
/// share its event loop).
final class MuxSessionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never

    /// What the peer's OPEN initializes.
    typealias InboundStreamInitializer = @Sendable (Channel, ByteBuffer) -> EventLoopFuture<Void>
    /// Receives datagrams (flow ID, payload) on the event loop.
    typealias DatagramHandler = @Sendable (UInt32, ByteBuffer) -> Void

    let configuration: MuxConfiguration
    var logger: Logger
    private let inboundStreamInitializer: InboundStreamInitializer
    private let datagramHandler: DatagramHandler?
    let stats: MuxLockedValue<MuxSessionStats>
    /// Completed by the first GOAWAY sent or received, failed if the session ends without one.
    let goAwayPromise: EventLoopPromise<MuxGoAway>

    private(set) var context: ChannelHandlerContext?
    /// The connection-level state and every decision about it.
    var machine: MuxSessionStateMachine
    private var reader: MuxFrameReader

    private var drainTimeout: Scheduled<Void>?

    // Internal, not private, only for `MuxSessionHandler+Streams.swift` and `+Writing.swift`:
    /// The stream channels by ID: the same IDs as `machine.openStreamIDs`.
    var streams: [UInt32: MuxStreamChannel] = [:]
    /// Streams that have data to send and wait for the transport to become writable.
    var waitingForTransport = CircularBuffer<MuxStreamChannel>()
    /// True while frames of a transport read are handled: flushes wait for its end.
    var inReadLoop = false
    /// Streams delivered data in the current read burst, owed a read-complete at its end.
    var streamsAwaitingReadComplete: [MuxStreamChannel] = []
    /// Read buffers kept alive by payloads waiting in streams (see `pinReadBuffer`).
    var pinnedReadBuffers = MuxPinnedBuffers()
    /// Frames were written during the read burst: flush at its end.
    var flushPending = false
    /// A flush is scheduled at the end of the current event-loop task.
    var flushScheduled = false
    /// Payload bytes written since the last flush.
    var unflushedBytes = 0

    /// The promises of explicit pings (`MuxSession.ping()`), by ping ID; keepalive pings have none.
    private var pingPromises: [UInt64: EventLoopPromise<TimeAmount>] = [:]
    private var keepaliveTask: RepeatedTask?

    init(
        role: MuxRole,
        configuration: MuxConfiguration,
        logger: Logger,
        stats: MuxLockedValue<MuxSessionStats>,
        goAwayPromise: EventLoopPromise<MuxGoAway>,
        inboundStreamInitializer: @escaping InboundStreamInitializer,
        datagramHandler: DatagramHandler?
    ) {
        self.configuration = configuration.normalized
        self.logger = logger
        self.logger[metadataKey: "mux.role"] = "\(role)"
        self.stats = stats
        self.goAwayPromise = goAwayPromise
        self.inboundStreamInitializer = inboundStreamInitializer
        self.datagramHandler = datagramHandler
        self.machine = MuxSessionStateMachine(role: role, configuration: self.configuration)
        self.reader = MuxFrameReader(maxFrameSize: self.configuration.maxFrameSize)
    }

    /// The loop's clock (virtual on an EmbeddedEventLoop, so timeouts are testable).
    var now: NIODeadline { self.context?.eventLoop.now ?? .now() }

    /// The largest frame payload the peer accepts (streams split their writes to it).
    var peerMaxFrameSize: Int { self.machine.peerMaxFrameSize }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.shutDown(error: MuxError.sessionClosed)
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.shutDown(error: MuxError.sessionClosed)
        context.fireChannelInactive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .start(let pingID, let keepaliveInterval)? = self.machine.start(now: self.now) else { return }
        var preface = context.channel.allocator.buffer(capacity: MuxProtocol.prefaceSize)
        MuxFrameEncoder.writePreface(maxFrameSize: self.configuration.maxFrameSize, into: &preface)
        context.write(NIOAny(preface), promise: nil)
        // A first ping seeds the RTT estimate that window auto-tuning uses.
        self.writeControl(.ping(ack: false, payload: pingID))
        self.needsFlush()
        context.flush()
        if let interval = keepaliveInterval {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.keepaliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                loopBound.value.keepaliveTick()
            }
        }
        self.logger.debug("mux session started")
    }

    /// Ends every stream and timer; the channel is (being) closed.
    private func shutDown(error: Error) {
        guard case .shutDown(let wasStarted)? = self.machine.channelInactive() else { return }
        self.keepaliveTask?.cancel()
        self.keepaliveTask = nil
        self.drainTimeout?.cancel()
        self.drainTimeout = nil
        let pings = self.pingPromises
        self.pingPromises = [:]
        for (_, promise) in pings {
            promise.fail(error)
        }
        let streams = self.streams.values
        for stream in streams {
            stream.sessionClosed(error: error)
        }
        self.streams = [:]
        self.waitingForTransport.removeAll()
        self.stats.withLockedValue { $0.openStreams = 0; $0.isClosed = true }
        // No-op when a GOAWAY already completed it.
        self.goAwayPromise.fail(MuxError.sessionClosed)
        if wasStarted {
            self.logger.debug("mux session ended", metadata: ["streams.dropped": "\(streams.count)"])
        }
    }

    /// Closes the session because of `error`: tells the peer with GOAWAY, logs why, closes the
    /// transport.
    func fail(_ error: MuxError) {
        guard self.context != nil, let action = self.machine.sessionError(error) else { return }
        self.closeOnError(action)
    }

    /// Carries out a session error the machine decided on.
    func closeOnError(_ action: MuxSessionStateMachine.CloseOnError) {
        guard let context = self.context else { return }
        let error = action.error
        self.logger.warning("mux session closed on error", metadata: ["mux.error": "\(error)"])
        self.stats.withLockedValue { $0.isGoingAway = true }
        self.writeControl(.goAway(lastStreamID: action.lastStreamID, code: error.code, reason: Self.reasonBuffer(error.reason, allocator: context.channel.allocator)))
        context.flush()
        self.goAwayPromise.succeed(MuxGoAway(origin: .local, code: error.code, reason: error.reason))
        self.close()
    }

    private static func reasonBuffer(_ reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: min(reason.utf8.count, 256))
        buffer.writeBytes(reason.utf8.prefix(256))
        return buffer
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.machine.bytesReceived(now: self.now) else { return }
        let buffer = self.unwrapInboundIn(data)
        self.inReadLoop = true
        do {
            try self.reader.read(buffer) { frame in
                self.handle(frame)
            }
        } catch let error as MuxError {
            self.fail(error)
        } catch {
            self.fail(MuxError(code: .protocolError, reason: "\(error)"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Streams that were delivered data in this burst complete their reads now; completing
        // may deliver more (a reader asking for the next read), which joins the list again.
        var rounds = 0
        while !self.streamsAwaitingReadComplete.isEmpty, rounds < 64 {
            rounds += 1
            let streams = self.streamsAwaitingReadComplete
            self.streamsAwaitingReadComplete.removeAll(keepingCapacity: true)
            for stream in streams { stream.parentReadComplete() }
        }
        self.inReadLoop = false
        // Past the bound (a pathological reader), the rest complete outside the burst.
        let left = self.streamsAwaitingReadComplete
        self.streamsAwaitingReadComplete.removeAll()
        for stream in left { stream.parentReadComplete() }
        if self.flushPending {
            self.flushPending = false
            self.unflushedBytes = 0
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.resumeWaitingStreams()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.logger.debug("mux transport error", metadata: ["error": "\(error)"])
        context.fireErrorCaught(error)
    }

    func handle(_ frame: MuxFrame) {
        guard self.machine.processesFrames else { return }
        self.logger.trace("mux frame received", metadata: ["mux.frame": "\(frame)"])
        switch frame {
        case .preface(_, let maxFrameSize):
            self.machine.receivePreface(maxFrameSize: maxFrameSize)
        case .open(let id, let metadata):
            self.receiveOpen(id: id, metadata: metadata)
        case .data(let id, let payload):
            let size = payload.readableBytes
            self.stats.withLockedValue { $0.bytesIn &+= size }
            self.deliver(to: id) { try $0.receiveData(payload) }
        case .windowUpdate(let id, let increment):
            self.deliver(to: id) { try $0.receiveWindowUpdate(increment) }
        case .fin(let id):
            self.deliver(to: id) { try $0.receiveFin() }
        case .reset(let id, let code):
            guard let stream = self.stream(for: id) else { return }
            self.logger.trace("mux stream reset by peer", metadata: ["mux.stream": "\(id)", "mux.code": "\(code)"])
            stream.receiveReset(code)
        case .ping(let ack, let payload):
            if ack {
                self.receivePong(payload)
            } else if self.admitReactiveFrame() {
                self.writeControl(.ping(ack: true, payload: payload))
                self.needsFlush()
            }
        case .goAway(let lastStreamID, let code, let reason):
            self.receiveGoAway(lastStreamID: lastStreamID, code: code, reason: reason)
        case .datagram(let flowID, let payload):
            guard self.machine.acceptsDatagram(size: payload.readableBytes) else {
                self.stats.withLockedValue { $0.droppedDatagrams += 1 }
                return
            }
            self.datagramHandler?(flowID, payload)
        case .unknown:
            break
        }
    }

    /// The stream `id` refers to, nil for a stream that existed and closed (late frames are
    /// ignored). A frame for a stream that was never opened closes the session.
    private func stream(for id: UInt32) -> MuxStreamChannel? {
        switch self.machine.receiveStreamFrame(streamID: id) {
        case .deliver:
            return self.streams[id]
        case .ignore:
            return nil
        case .closeOnError(let action):
            self.closeOnError(action)
            return nil
        }
    }

    /// Hands a frame to stream `id`; a stream error it throws resets the stream (the session
    /// lives on).
    private func deliver(to id: UInt32, _ body: (MuxStreamChannel) throws -> Void) {
        guard let stream = self.stream(for: id) else { return }
        do {
            try body(stream)
        } catch let error as MuxError {
            self.logger.info("mux stream reset", metadata: ["mux.stream": "\(id)", "mux.error": "\(error)"])
            stream.resetAndClose(code: error.code, error: error)
        } catch {}
    }

    private func receiveOpen(id: UInt32, metadata: ByteBuffer) {
        guard let context = self.context else { return }
        switch self.machine.receiveOpen(streamID: id, metadataSize: metadata.readableBytes) {
        case .accept:
            let stream = MuxStreamChannel(streamID: id, session: self, parent: context.channel, configuration: self.configuration)
            self.addStream(stream)
            let initializer = self.inboundStreamInitializer
            stream.configure(
                initializer: { channel in initializer(channel, metadata) },
                failureCode: .streamRejected,
                promise: nil
            )
        case .refuse(let refusal):
            switch refusal {
            case .metadataTooLarge(let size):
                self.logger.info("mux refused stream: metadata too large", metadata: ["mux.stream": "\(id)", "size": "\(size)"])
            case .tooManyStreams(let limit):
                self.logger.info("mux refused stream: too many concurrent streams", metadata: ["mux.stream": "\(id)", "limit": "\(limit)"])
            case .goingAway:
                break
            }
            self.sendReset(streamID: id, code: refusal.code)
        case .closeOnError(let action):
            self.closeOnError(action)
        case .ignore:
            break
        }
    }

    private func receiveGoAway(lastStreamID: UInt32, code: MuxErrorCode, reason: ByteBuffer) {
        let text = String(buffer: reason)
        if code == .noError {
            self.logger.info("mux peer is going away", metadata: ["mux.lastStream": "\(lastStreamID)", "reason": "\(text)"])
        } else {
            self.logger.warning("mux peer closed the session", metadata: ["mux.code": "\(code)", "reason": "\(text)"])
        }
        let refused = self.machine.receiveGoAway(lastStreamID: lastStreamID)
        self.stats.withLockedValue { $0.isGoingAway = true }
        // Our streams the peer never processed will not be answered.
        for id in refused {
            self.streams[id]?.sessionClosed(error: MuxError(code: .refusedStream, reason: "not processed by peer before go-away", isRemote: true))
        }
        self.goAwayPromise.succeed(MuxGoAway(origin: .peer, code: code, reason: text))
        self.closeIfDrained()
    }

    // MARK: Ping and keepalive

    func sendPing(promise: EventLoopPromise<TimeAmount>?) {
        guard self.context != nil else {
            promise?.fail(MuxError.sessionClosed)
            return
        }
        switch self.machine.sendPing(now: self.now, hasWaiter: promise != nil) {
        case .fail(let error):
            promise?.fail(error)
        case .send(let id):
            if let promise { self.pingPromises[id] = promise }
            self.writeControl(.ping(ack: false, payload: id))
            self.needsFlush()
        }
    }

    private func receivePong(_ payload: UInt64) {
        guard let pong = self.machine.receivePong(payload: payload, now: self.now) else { return }
        self.stats.withLockedValue { $0.smoothedRTT = pong.smoothedRTT }
        self.configuration.observer?.roundTrip(pong.rtt)
        self.pingPromises.removeValue(forKey: payload)?.succeed(pong.rtt)
    }

    private func keepaliveTick() {
        guard self.context != nil else { return }
        switch self.machine.keepaliveTimerFired(now: self.now) {
        case .none:
            break
        case .sendPing(let id):
            self.writeControl(.ping(ack: false, payload: id))
            self.needsFlush()
        case .closeOnError(let action):
            self.closeOnError(action)
        }
    }

    // MARK: Go-away

    func goAway(code: MuxErrorCode, reason: String) {
        guard let context = self.context, case .sendGoAway(let lastStreamID, let then)? = self.machine.goAway(code: code) else {
            return
        }
        self.stats.withLockedValue { $0.isGoingAway = true }
        self.logger.info("mux going away", metadata: ["mux.openStreams": "\(self.streams.count)", "reason": "\(reason)"])
        self.writeControl(.goAway(lastStreamID: lastStreamID, code: code, reason: Self.reasonBuffer(reason, allocator: context.channel.allocator)))
        self.needsFlush()
        // After the frame is written: a callback may close the last stream, which closes the
        // transport (flushing what was written) at once.
        self.goAwayPromise.succeed(MuxGoAway(origin: .local, code: code, reason: reason))
        switch then {
        case .close:
            // An error go-away does not drain: close right after the frame.
            self.close()
        case .drain(let timeout):
            if let timeout {
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                self.drainTimeout = context.eventLoop.scheduleTask(in: timeout) {
                    loopBound.value.drainTimedOut()
                }
            }
            self.closeIfDrained()
        }
    }

    private func drainTimedOut() {
        guard let context = self.context, self.machine.drainTimeoutFired() else { return }
        self.logger.info("mux go-away drain timed out", metadata: ["mux.openStreams": "\(self.streams.count)"])
        context.close(promise: nil)
    }

    func closeIfDrained() {
        guard let context = self.context, self.machine.closeIfDrained() else { return }
        self.logger.debug("mux session drained")
        context.flush()
        context.close(promise: nil)
    }

    /// Closes the transport at once (streams end with `MuxError.sessionClosed`).
    func close() {
        guard let context = self.context, self.machine.close() else { return }
        context.close(promise: nil)
    }
}
