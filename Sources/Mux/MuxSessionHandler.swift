import Logging
import NIOCore

/// The `ChannelHandler` that runs a Mux session on its channel: decodes frames, owns the streams
/// (child channels), writes their frames, answers pings, keeps the session alive and drains it.
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

    private enum State {
        case idle, active, closing, closed
    }

    let role: MuxRole
    let configuration: MuxConfiguration
    var logger: Logger
    private let inboundStreamInitializer: InboundStreamInitializer
    private let datagramHandler: DatagramHandler?
    let stats: MuxLockedValue<MuxSessionStats>
    /// Completed by the first GOAWAY sent or received, failed if the session ends without one.
    let goAwayPromise: EventLoopPromise<MuxGoAway>

    private(set) var context: ChannelHandlerContext?
    private var state = State.idle
    private var reader: MuxFrameReader

    private(set) var streams: [UInt32: MuxStreamChannel] = [:]
    private var nextLocalStreamID: UInt32
    private var highestPeerStreamID: UInt32 = 0
    private var localStreamCount = 0
    private var peerStreamCount = 0
    /// Sum of the receive windows of all streams (auto-tuning stays under `maxSessionWindow`).
    private(set) var totalReceiveWindow = 0
    private(set) var peerMaxFrameSize = MuxProtocol.minMaxFrameSize

    /// Set once the session failed: nothing more received is processed.
    private var failed = false
    private var goAwaySent = false
    private var goAwayReceived = false
    private var drainTimeout: Scheduled<Void>?

    private var waitingForTransport = CircularBuffer<MuxStreamChannel>()
    private var inReadLoop = false
    /// Streams delivered data in the current read burst, owed a read-complete at its end.
    private var streamsAwaitingReadComplete: [MuxStreamChannel] = []
    /// Read buffers kept alive by payloads waiting in streams (see `pinReadBuffer`).
    private(set) var pinnedReadBuffers = MuxPinnedBuffers()
    private var flushPending = false
    private var flushScheduled = false
    /// Payload bytes written since the last flush.
    private var unflushedBytes = 0
    /// Flush at once past this many unflushed bytes: about the transport's default high watermark,
    /// so that writability reflects real backpressure, not our own unflushed writes.
    private static let eagerFlushThreshold = 64 * 1024
    private var reactiveFramesWhileBackedUp = 0


    private var nextPingID: UInt64 = 1
    private var outstandingPings: [UInt64: (sent: NIODeadline, promise: EventLoopPromise<TimeAmount>?)] = [:]
    private(set) var smoothedRTT: TimeAmount?
    private var lastReceived = NIODeadline.now()
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
        self.role = role
        self.configuration = configuration.normalized
        self.logger = logger
        self.logger[metadataKey: "mux.role"] = "\(role)"
        self.stats = stats
        self.goAwayPromise = goAwayPromise
        self.inboundStreamInitializer = inboundStreamInitializer
        self.datagramHandler = datagramHandler
        self.nextLocalStreamID = role == .initiator ? 1 : 2
        self.reader = MuxFrameReader(maxFrameSize: self.configuration.maxFrameSize)
    }

    /// The loop's clock (virtual on an EmbeddedEventLoop, so timeouts are testable).
    private var now: NIODeadline { self.context?.eventLoop.now ?? .now() }

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
        guard self.state == .idle else { return }
        self.state = .active
        self.lastReceived = self.now
        var preface = context.channel.allocator.buffer(capacity: MuxProtocol.prefaceSize)
        MuxFrameEncoder.writePreface(maxFrameSize: self.configuration.maxFrameSize, into: &preface)
        context.write(NIOAny(preface), promise: nil)
        // A first ping seeds the RTT estimate that window auto-tuning uses.
        self.sendPing(promise: nil)
        context.flush()
        if let interval = self.configuration.keepaliveInterval {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.keepaliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                loopBound.value.keepaliveTick()
            }
        }
        self.logger.debug("mux session started")
    }

    /// Ends every stream and timer; the channel is (being) closed.
    private func shutDown(error: Error) {
        guard self.state != .closed else { return }
        let wasStarted = self.state != .idle
        self.state = .closed
        self.keepaliveTask?.cancel()
        self.keepaliveTask = nil
        self.drainTimeout?.cancel()
        self.drainTimeout = nil
        for (_, ping) in self.outstandingPings {
            ping.promise?.fail(error)
        }
        self.outstandingPings = [:]
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
        guard self.state == .active || self.state == .closing, !self.failed, let context = self.context else { return }
        self.failed = true
        self.logger.warning("mux session closed on error", metadata: ["mux.error": "\(error)"])
        self.stats.withLockedValue { $0.isGoingAway = true }
        self.writeControl(.goAway(lastStreamID: self.highestPeerStreamID, code: error.code, reason: Self.reasonBuffer(error.reason, allocator: context.channel.allocator)))
        context.flush()
        self.goAwayPromise.succeed(MuxGoAway(origin: .local, code: error.code, reason: error.reason))
        self.state = .closing
        context.close(promise: nil)
    }

    private static func reasonBuffer(_ reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: min(reason.utf8.count, 256))
        buffer.writeBytes(reason.utf8.prefix(256))
        return buffer
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.state == .active || self.state == .closing, !self.failed else { return }
        let buffer = self.unwrapInboundIn(data)
        self.lastReceived = self.now
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
        guard self.state == .active || self.state == .closing, !self.failed else { return }
        self.logger.trace("mux frame received", metadata: ["mux.frame": "\(frame)"])
        switch frame {
        case .preface(_, let maxFrameSize):
            self.peerMaxFrameSize = maxFrameSize
        case .open(let id, let metadata):
            self.receiveOpen(id: id, metadata: metadata)
        case .data(let id, let payload):
            guard let stream = self.stream(for: id) else { return }
            do {
                try stream.receiveData(payload)
            } catch let error as MuxError {
                self.logger.info("mux stream reset", metadata: ["mux.stream": "\(id)", "mux.error": "\(error)"])
                stream.resetAndClose(code: error.code, error: error)
            } catch {}
        case .windowUpdate(let id, let increment):
            guard let stream = self.stream(for: id) else { return }
            do {
                try stream.receiveWindowUpdate(increment)
            } catch let error as MuxError {
                self.logger.info("mux stream reset", metadata: ["mux.stream": "\(id)", "mux.error": "\(error)"])
                stream.resetAndClose(code: error.code, error: error)
            } catch {}
        case .fin(let id):
            guard let stream = self.stream(for: id) else { return }
            do {
                try stream.receiveFin()
            } catch let error as MuxError {
                self.logger.info("mux stream reset", metadata: ["mux.stream": "\(id)", "mux.error": "\(error)"])
                stream.resetAndClose(code: error.code, error: error)
            } catch {}
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
            guard payload.readableBytes <= self.configuration.maxDatagramSize else {
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
        if let stream = self.streams[id] { return stream }
        let isLocal = self.isLocal(id)
        let known = isLocal ? id < self.nextLocalStreamID : id <= self.highestPeerStreamID
        if !known {
            self.fail(MuxError(code: .protocolError, reason: "frame for stream \(id) which was never opened"))
        }
        return nil
    }

    private func isLocal(_ id: UInt32) -> Bool {
        (id % 2 == 1) == (self.role == .initiator)
    }

    private func receiveOpen(id: UInt32, metadata: ByteBuffer) {
        guard !self.isLocal(id), id > self.highestPeerStreamID else {
            self.fail(MuxError(code: .protocolError, reason: "OPEN with invalid stream ID \(id)"))
            return
        }
        self.highestPeerStreamID = id
        guard metadata.readableBytes <= self.configuration.maxMetadataSize else {
            self.logger.info("mux refused stream: metadata too large", metadata: ["mux.stream": "\(id)", "size": "\(metadata.readableBytes)"])
            self.sendReset(streamID: id, code: .frameSizeError)
            return
        }
        guard !self.goAwaySent, self.state == .active else {
            self.sendReset(streamID: id, code: .refusedStream)
            return
        }
        guard self.peerStreamCount < self.configuration.maxConcurrentStreams else {
            self.logger.info("mux refused stream: too many concurrent streams", metadata: ["mux.stream": "\(id)", "limit": "\(self.configuration.maxConcurrentStreams)"])
            self.sendReset(streamID: id, code: .refusedStream)
            return
        }
        guard let context = self.context else { return }
        let stream = MuxStreamChannel(streamID: id, session: self, parent: context.channel, configuration: self.configuration)
        self.peerStreamCount += 1
        self.addStream(stream)
        let initializer = self.inboundStreamInitializer
        stream.configure(
            initializer: { channel in initializer(channel, metadata) },
            failureCode: .streamRejected,
            promise: nil
        )
    }

    private func addStream(_ stream: MuxStreamChannel) {
        self.streams[stream.streamID] = stream
        self.totalReceiveWindow += stream.receiveWindow.size
        let count = self.streams.count
        self.stats.withLockedValue { $0.openStreams = count }
    }

    private func receiveGoAway(lastStreamID: UInt32, code: MuxErrorCode, reason: ByteBuffer) {
        let text = String(buffer: reason)
        if code == .noError {
            self.logger.info("mux peer is going away", metadata: ["mux.lastStream": "\(lastStreamID)", "reason": "\(text)"])
        } else {
            self.logger.warning("mux peer closed the session", metadata: ["mux.code": "\(code)", "reason": "\(text)"])
        }
        self.goAwayReceived = true
        self.stats.withLockedValue { $0.isGoingAway = true }
        // Our streams the peer never processed will not be answered.
        let refused = self.streams.values.filter { self.isLocal($0.streamID) && $0.streamID > lastStreamID }
        for stream in refused {
            stream.sessionClosed(error: MuxError(code: .refusedStream, reason: "not processed by peer before go-away", isRemote: true))
        }
        self.goAwayPromise.succeed(MuxGoAway(origin: .peer, code: code, reason: text))
        self.closeIfDrained()
    }

    // MARK: Opening streams

    func openStream(metadata: ByteBuffer, initializer: @escaping (Channel) -> EventLoopFuture<Void>, promise: EventLoopPromise<Channel>) {
        guard self.state == .active, let context = self.context else {
            promise.fail(MuxError.sessionClosed)
            return
        }
        guard !self.goAwaySent, !self.goAwayReceived else {
            promise.fail(MuxError.goingAway)
            return
        }
        guard self.localStreamCount < self.configuration.maxConcurrentStreams else {
            promise.fail(MuxError.tooManyStreams)
            return
        }
        guard metadata.readableBytes <= min(self.configuration.maxMetadataSize, self.peerMaxFrameSize) else {
            promise.fail(MuxError.metadataTooLarge)
            return
        }
        guard self.nextLocalStreamID <= MuxProtocol.maxStreamID else {
            promise.fail(MuxError.streamIDsExhausted)
            return
        }
        let id = self.nextLocalStreamID
        self.nextLocalStreamID += 2
        let stream = MuxStreamChannel(streamID: id, session: self, parent: context.channel, configuration: self.configuration)
        self.localStreamCount += 1
        self.addStream(stream)
        self.writeControl(.open(streamID: id, metadata: metadata))
        stream.configure(initializer: initializer, failureCode: .cancel, promise: promise)
        self.needsFlush()
    }

    // MARK: Called by streams

    var transportIsWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    func waitForTransport(_ stream: MuxStreamChannel) {
        guard !stream.isWaitingForTransport else { return }
        stream.isWaitingForTransport = true
        self.waitingForTransport.append(stream)
    }

    private func resumeWaitingStreams() {
        var count = self.waitingForTransport.count
        while count > 0, self.transportIsWritable, let stream = self.waitingForTransport.popFirst() {
            count -= 1
            stream.isWaitingForTransport = false
            stream.sendPendingWrites()
        }
    }

    func writeData(streamID: UInt32, payload: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let size = payload.readableBytes
        self.unflushedBytes += size
        if size <= 1024 {
            var buffer = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize + size)
            MuxFrameEncoder.writeHeader(length: size, type: .data, id: streamID, into: &buffer)
            buffer.writeImmutableBuffer(payload)
            context.write(NIOAny(buffer), promise: promise)
        } else {
            var header = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize)
            MuxFrameEncoder.writeHeader(length: size, type: .data, id: streamID, into: &header)
            context.write(NIOAny(header), promise: nil)
            context.write(NIOAny(payload), promise: promise)
        }
    }

    func writeFin(streamID: UInt32, promise: EventLoopPromise<Void>?) {
        self.writeControl(.fin(streamID: streamID), promise: promise)
    }

    func sendReset(streamID: UInt32, code: MuxErrorCode) {
        guard self.admitReactiveFrame() else { return }
        self.writeControl(.reset(streamID: streamID, code: code))
        self.needsFlush()
    }

    /// Flood protection: frames we write in answer to the peer (pongs, RESETs) while the transport
    /// is backed up are counted; a peer that keeps provoking them without reading is cut off
    /// instead of making us buffer without bound. Returns false once the session was closed.
    private func admitReactiveFrame() -> Bool {
        guard let context = self.context else { return false }
        if context.channel.isWritable {
            self.reactiveFramesWhileBackedUp = 0
            return true
        }
        self.reactiveFramesWhileBackedUp += 1
        if self.reactiveFramesWhileBackedUp > self.configuration.maxReactiveFramesWhileBackedUp {
            self.fail(MuxError(code: .protocolError, reason: "peer provokes control frames without reading them (flood)"))
            return false
        }
        return true
    }

    /// Marks that frames were written. They are flushed at the end of the current read burst, or
    /// otherwise once at the end of the current event-loop task, so that the frames of many
    /// streams (opens, data, FINs, window updates) written in one tick share one syscall.
    func needsFlush() {
        if self.unflushedBytes >= Self.eagerFlushThreshold {
            // Many bytes queued: flush now so the transport (and a TLS handler, which counts only
            // flushed bytes in its writability) sees them and backpressure stays accurate.
            self.unflushedBytes = 0
            self.flushPending = false
            self.context?.flush()
            return
        }
        if self.inReadLoop {
            self.flushPending = true
            return
        }
        guard !self.flushScheduled, let context = self.context else { return }
        self.flushScheduled = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = loopBound.value
            handler.flushScheduled = false
            handler.unflushedBytes = 0
            handler.context?.flush()
        }
    }

    /// The application consumed `bytes` of `stream`: grant window back when due.
    /// Counts `slice`'s read buffer as kept alive by a payload of `stream` waiting for its
    /// reader, if both the stream's and the session's budgets allow; false: copy it instead.
    func pinReadBuffer(of slice: ByteBuffer, for stream: inout MuxPinnedBuffers) -> Bool {
        guard stream.fits(slice, limit: self.configuration.maxPinnedReadCapacityPerStream),
            self.pinnedReadBuffers.fits(slice, limit: self.configuration.maxPinnedReadCapacity)
        else { return false }
        stream.pin(slice)
        self.pinnedReadBuffers.pin(slice)
        return true
    }

    /// A payload counted by `pinReadBuffer` was delivered or dropped.
    func unpinReadBuffer(of slice: ByteBuffer) {
        self.pinnedReadBuffers.unpin(slice)
    }

    /// Whether `stream`'s read-complete should wait for the end of the current read burst; if
    /// so, the stream is listed to be completed then (it asks once per burst).
    func deferReadComplete(of stream: MuxStreamChannel) -> Bool {
        guard self.inReadLoop else { return false }
        self.streamsAwaitingReadComplete.append(stream)
        return true
    }

    func streamConsumed(_ stream: MuxStreamChannel, bytes: Int) {
        let budget = self.configuration.maxSessionWindow - self.totalReceiveWindow
        guard let update = stream.windowConsumed(bytes, now: self.now, rtt: self.smoothedRTT, budget: budget) else { return }
        self.totalReceiveWindow += update.grewBy
        self.writeControl(.windowUpdate(streamID: stream.streamID, increment: update.increment))
        self.needsFlush()
    }

    func streamClosed(_ stream: MuxStreamChannel) {
        guard self.streams.removeValue(forKey: stream.streamID) != nil else { return }
        if self.isLocal(stream.streamID) {
            self.localStreamCount -= 1
        } else {
            self.peerStreamCount -= 1
        }
        self.totalReceiveWindow -= stream.receiveWindow.size
        let count = self.streams.count
        self.stats.withLockedValue { $0.openStreams = count }
        self.closeIfDrained()
    }

    func writeControl(_ frame: MuxFrame, promise: EventLoopPromise<Void>? = nil) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 32)
        MuxFrameEncoder.write(frame, into: &buffer)
        context.write(NIOAny(buffer), promise: promise)
    }

    // MARK: Datagrams

    /// Sends a datagram unless it is too large or the transport is backed up; never queues.
    @discardableResult
    func sendDatagram(flowID: UInt32, payload: ByteBuffer) -> Bool {
        guard self.state == .active, let context = self.context,
            payload.readableBytes <= min(self.configuration.maxDatagramSize, self.peerMaxFrameSize)
        else {
            self.stats.withLockedValue { $0.droppedDatagrams += 1 }
            return false
        }
        if !context.channel.isWritable, self.unflushedBytes > 0 {
            // Our own unflushed writes may be what makes the transport look full.
            self.unflushedBytes = 0
            context.flush()
        }
        guard context.channel.isWritable else {
            self.stats.withLockedValue { $0.droppedDatagrams += 1 }
            return false
        }
        self.unflushedBytes += payload.readableBytes
        var header = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize + payload.readableBytes)
        MuxFrameEncoder.writeHeader(length: payload.readableBytes, type: .datagram, id: flowID, into: &header)
        header.writeImmutableBuffer(payload)
        context.write(NIOAny(header), promise: nil)
        self.needsFlush()
        return true
    }

    // MARK: Ping and keepalive

    func sendPing(promise: EventLoopPromise<TimeAmount>?) {
        guard self.state == .active, self.context != nil else {
            promise?.fail(MuxError.sessionClosed)
            return
        }
        guard self.outstandingPings.count < 64 else {
            promise?.fail(MuxError(code: .internalError, reason: "too many outstanding pings"))
            return
        }
        let id = self.nextPingID
        self.nextPingID &+= 1
        self.outstandingPings[id] = (self.now, promise)
        self.writeControl(.ping(ack: false, payload: id))
        self.needsFlush()
    }

    private func receivePong(_ payload: UInt64) {
        guard let ping = self.outstandingPings.removeValue(forKey: payload) else { return }
        let rtt = self.now - ping.sent
        if let srtt = self.smoothedRTT {
            self.smoothedRTT = .nanoseconds((srtt.nanoseconds * 7 + rtt.nanoseconds) / 8)
        } else {
            self.smoothedRTT = rtt
        }
        let smoothed = self.smoothedRTT
        self.stats.withLockedValue { $0.smoothedRTT = smoothed }
        ping.promise?.succeed(rtt)
    }

    private func keepaliveTick() {
        guard self.state == .active || self.state == .closing else { return }
        let silence = self.now - self.lastReceived
        if silence >= self.configuration.deadPeerTimeout {
            self.fail(MuxError(code: .keepaliveTimeout, reason: "no frame from peer for \(silence.nanoseconds / 1_000_000) ms"))
            return
        }
        // Drop stale unanswered keepalive pings so they cannot pile up.
        if self.outstandingPings.count >= 32 {
            self.outstandingPings = self.outstandingPings.filter { $0.value.promise != nil }
        }
        self.sendPing(promise: nil)
    }

    // MARK: Go-away

    func goAway(code: MuxErrorCode, reason: String) {
        guard self.state == .active, !self.goAwaySent, let context = self.context else { return }
        self.goAwaySent = true
        self.stats.withLockedValue { $0.isGoingAway = true }
        self.logger.info("mux going away", metadata: ["mux.openStreams": "\(self.streams.count)", "reason": "\(reason)"])
        self.writeControl(.goAway(lastStreamID: self.highestPeerStreamID, code: code, reason: Self.reasonBuffer(reason, allocator: context.channel.allocator)))
        self.needsFlush()
        // After the frame is written: a callback may close the last stream, which closes the
        // transport (flushing what was written) at once.
        self.goAwayPromise.succeed(MuxGoAway(origin: .local, code: code, reason: reason))
        if code != .noError {
            // An error go-away does not drain: close right after the frame.
            self.state = .closing
            context.close(promise: nil)
            return
        }
        if let timeout = self.configuration.goAwayDrainTimeout {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.drainTimeout = context.eventLoop.scheduleTask(in: timeout) {
                loopBound.value.drainTimedOut()
            }
        }
        self.closeIfDrained()
    }

    private func drainTimedOut() {
        guard self.state == .active, let context = self.context else { return }
        self.logger.info("mux go-away drain timed out", metadata: ["mux.openStreams": "\(self.streams.count)"])
        self.state = .closing
        context.close(promise: nil)
    }

    private func closeIfDrained() {
        guard self.state == .active, self.goAwaySent || self.goAwayReceived, self.streams.isEmpty,
            let context = self.context
        else { return }
        self.state = .closing
        self.logger.debug("mux session drained")
        context.flush()
        context.close(promise: nil)
    }

    /// Closes the transport at once (streams end with `MuxError.sessionClosed`).
    func close() {
        guard let context = self.context, self.state != .closed else { return }
        self.state = .closing
        context.close(promise: nil)
    }
}

/// Counters the session publishes for any thread.
struct MuxSessionStats: Sendable {
    var openStreams = 0
    var droppedDatagrams = 0
    var smoothedRTT: TimeAmount?
    var isGoingAway = false
    var isClosed = false
}
