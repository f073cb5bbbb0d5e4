import NIOCore

/// One Mux stream as a NIO child `Channel` of the session's transport channel.
///
/// Why a Channel: it can be joined to a TCP connection with ordinary handlers, and backpressure is
/// the usual NIO contract: `read()` (or `autoRead`) decides when received bytes are delivered, and
/// only delivered bytes are granted back to the peer as window; `isWritable` turns false when more
/// than the high watermark of written bytes waits for window or for the transport.
///
/// All mutable state is confined to the parent's event loop; only `isActive`/`isWritable` are read
/// from other threads, through a lock.
final class MuxStreamChannel: Channel, ChannelCore, @unchecked Sendable {
    // MARK: Channel basics

    let streamID: UInt32
    let eventLoop: EventLoop
    let allocator: ByteBufferAllocator
    let parent: Channel?
    var closeFuture: EventLoopFuture<Void> { self.closePromise.futureResult }
    var pipeline: ChannelPipeline { self._pipeline }
    var localAddress: SocketAddress? { self.parent?.localAddress }
    var remoteAddress: SocketAddress? { self.parent?.remoteAddress }
    var _channelCore: ChannelCore { self }
    var isWritable: Bool { self.flags.withLockedValue { $0.isWritable } }
    var isActive: Bool { self.flags.withLockedValue { $0.isActive } }
    var syncOptions: NIOSynchronousChannelOptions? { SynchronousOptions(channel: self) }

    private let closePromise: EventLoopPromise<Void>
    private var _pipeline: ChannelPipeline!
    private let flags = MuxLockedValue(Flags())

    private struct Flags {
        var isActive = false
        var isWritable = true
    }

    // MARK: Loop-confined state

    private enum Lifecycle {
        case idle, active, closed
    }

    private enum PendingRead {
        /// `pinned`: the capacity of the read buffer this payload is a small slice of (counted
        /// in the budgets), 0 for a payload as received, `ownCopy` for a copy of ours that later
        /// payloads may be appended to.
        case data(ByteBuffer, pinned: Int)
        case fin
    }

    /// Waiting payloads copied out of their read buffers are appended to one another up to this
    /// size (each copy starts right-sized and grows).
    static let compactionBufferSize = 64 * 1024
    private static let ownCopy = -1

    private struct PendingWrite {
        var buffer: ByteBuffer
        var promise: EventLoopPromise<Void>?
    }

    /// The session that owns us. A strong reference: the session drops us when we close.
    private var session: MuxSessionHandler?
    private var lifecycle = Lifecycle.idle
    private(set) var state = MuxStreamState()
    private var autoRead = true
    private var allowRemoteHalfClosure = false
    private var unsatisfiedRead = false

    private var pendingReads = CircularBuffer<PendingRead>(initialCapacity: 4)
    /// Bytes received and not yet delivered to the pipeline (bounded by the receive window).
    private(set) var bufferedInboundBytes = 0
    /// Read buffers kept alive by payloads in `pendingReads` (also counted by the session).
    private(set) var pinnedBuffers = MuxPinnedBuffers()
    var pinnedCapacity: Int { self.pinnedBuffers.capacity }
    private(set) var receiveWindow: MuxReceiveWindow

    private var pendingWrites = CircularBuffer<PendingWrite>(initialCapacity: 4)
    /// How many entries at the head of `pendingWrites` have been flushed.
    private var flushedWriteCount = 0
    /// Bytes written by the application and not yet sent as DATA (bounded by the watermark while
    /// the writer honours writability).
    private(set) var bufferedOutboundBytes = 0
    private(set) var sendWindow = MuxSendWindow()
    private var waterMark: ChannelOptions.Types.WriteBufferWaterMark

    /// A FIN waits behind the pending writes.
    private var finRequested = false
    private var finPromise: EventLoopPromise<Void>?
    /// `close()` was called while the peer's side was still open: after our FIN, we send
    /// RESET(NO_ERROR) so the peer stops sending.
    private var closeRequested = false
    private var closePromises: [EventLoopPromise<Void>] = []
    /// True while the session lists us as waiting for the transport to become writable.
    var isWaitingForTransport = false
    /// Bytes delivered in the session's current read burst whose `channelReadComplete` (and
    /// window credit) waits for the burst's end, so that a reader which flushes on read-complete
    /// writes once per burst rather than once per frame.
    private var bytesAwaitingReadComplete = 0
    private var listedForReadComplete = false

    init(streamID: UInt32, session: MuxSessionHandler, parent: Channel, configuration: MuxConfiguration) {
        self.streamID = streamID
        self.session = session
        self.parent = parent
        self.eventLoop = parent.eventLoop
        self.allocator = parent.allocator
        self.closePromise = parent.eventLoop.makePromise()
        self.receiveWindow = MuxReceiveWindow(maxSize: configuration.maxStreamWindow)
        self.waterMark = configuration.streamWriteBufferWaterMark
        self._pipeline = ChannelPipeline(channel: self)
    }

    var description: String {
        "MuxStreamChannel(id: \(self.streamID), active: \(self.isActive), writable: \(self.isWritable))"
    }

    // MARK: Options

    func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        if self.eventLoop.inEventLoop {
            return self.eventLoop.makeCompletedFuture { try self.setOption0(option, value: value) }
        }
        return self.eventLoop.submit { try self.setOption0(option, value: value) }
    }

    func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        if self.eventLoop.inEventLoop {
            return self.eventLoop.makeCompletedFuture { try self.getOption0(option) }
        }
        return self.eventLoop.submit { try self.getOption0(option) }
    }

    fileprivate func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        self.eventLoop.preconditionInEventLoop()
        switch option {
        case _ as ChannelOptions.Types.AutoReadOption:
            let newValue = value as! Bool
            let wasOff = !self.autoRead
            self.autoRead = newValue
            if newValue && wasOff && self.lifecycle == .active {
                self.pipeline.read()
            }
        case _ as ChannelOptions.Types.AllowRemoteHalfClosureOption:
            self.allowRemoteHalfClosure = value as! Bool
        case _ as ChannelOptions.Types.WriteBufferWaterMarkOption:
            self.waterMark = value as! ChannelOptions.Types.WriteBufferWaterMark
            self.updateWritability()
        default:
            throw ChannelError.operationUnsupported
        }
    }

    fileprivate func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        self.eventLoop.preconditionInEventLoop()
        switch option {
        case _ as ChannelOptions.Types.AutoReadOption:
            return self.autoRead as! Option.Value
        case _ as ChannelOptions.Types.AllowRemoteHalfClosureOption:
            return self.allowRemoteHalfClosure as! Option.Value
        case _ as ChannelOptions.Types.WriteBufferWaterMarkOption:
            return self.waterMark as! Option.Value
        case _ as MuxStreamIDOption:
            return self.streamID as! Option.Value
        default:
            throw ChannelError.operationUnsupported
        }
    }

    private struct SynchronousOptions: NIOSynchronousChannelOptions {
        let channel: MuxStreamChannel
        func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
            try self.channel.setOption0(option, value: value)
        }
        func getOption<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
            try self.channel.getOption0(option)
        }
    }

    // MARK: Activation (called by the session)

    /// Runs the initializer; activates on success, resets with `failureCode` on failure.
    func configure(
        initializer: @escaping (Channel) -> EventLoopFuture<Void>,
        failureCode: MuxErrorCode,
        promise: EventLoopPromise<Channel>?
    ) {
        initializer(self).hop(to: self.eventLoop).whenComplete { result in
            switch result {
            case .success:
                guard self.lifecycle == .idle else {
                    promise?.fail(ChannelError.ioOnClosedChannel)
                    return
                }
                self.activate()
                promise?.succeed(self)
            case .failure(let error):
                promise?.fail(error)
                self.resetAndClose(code: failureCode, error: error)
            }
        }
    }

    private func activate() {
        // Registered and active only once the initializer's handlers are in place, as for a
        // socket channel.
        self.pipeline.fireChannelRegistered()
        self.lifecycle = .active
        self.flags.withLockedValue { $0.isActive = true }
        self.pipeline.fireChannelActive()
        if self.autoRead {
            self.pipeline.read()
        }
        self.tryToRead()
        self.sendPendingWrites()
        self.closeIfDone()
    }

    // MARK: ChannelCore

    func localAddress0() throws -> SocketAddress {
        guard let address = self.parent?.localAddress else { throw ChannelError.operationUnsupported }
        return address
    }

    func remoteAddress0() throws -> SocketAddress {
        guard let address = self.parent?.remoteAddress else { throw ChannelError.operationUnsupported }
        return address
    }

    func register0(promise: EventLoopPromise<Void>?) { promise?.fail(ChannelError.operationUnsupported) }
    func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) { promise?.fail(ChannelError.operationUnsupported) }
    func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) { promise?.fail(ChannelError.operationUnsupported) }
    func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) { promise?.fail(ChannelError.operationUnsupported) }

    func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.lifecycle != .closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard self.state.canSend, !self.finRequested else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let buffer = self.unwrapData(data, as: ByteBuffer.self)
        self.bufferedOutboundBytes += buffer.readableBytes
        self.pendingWrites.append(PendingWrite(buffer: buffer, promise: promise))
        self.updateWritability()
    }

    func flush0() {
        self.flushedWriteCount = self.pendingWrites.count
        if self.lifecycle == .active {
            self.sendPendingWrites()
        }
    }

    func read0() {
        guard self.lifecycle != .closed else { return }
        self.unsatisfiedRead = true
        self.tryToRead()
    }

    func close0(error: Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard self.lifecycle != .closed else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        switch mode {
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .output:
            guard !self.finRequested, self.state.canSend else {
                promise?.fail(ChannelError.outputClosed)
                return
            }
            self.finRequested = true
            self.finPromise = promise
            // Half-closing implies flushing what was written before.
            self.flushedWriteCount = self.pendingWrites.count
            if self.lifecycle == .active {
                self.sendPendingWrites()
            }
        case .all:
            if let promise { self.closePromises.append(promise) }
            if self.lifecycle == .idle {
                // Never activated (closed from the initializer): nothing was sent yet but OPEN.
                self.resetAndClose(code: .cancel, error: nil)
                return
            }
            guard !self.closeRequested else { return }
            self.closeRequested = true
            // Drop what the application will not read.
            self.dropPendingReads(keepFin: true)
            if self.state.canSend && !self.finRequested {
                self.finRequested = true
                self.flushedWriteCount = self.pendingWrites.count
            }
            self.sendPendingWrites()
            if !self.state.canSend, self.state.canReceive, self.pendingWrites.isEmpty {
                // Our FIN went earlier; the peer may still be sending: tell it to stop.
                self.state.reset()
                self.session?.sendReset(streamID: self.streamID, code: .noError)
            }
            self.closeIfDone()
        }
    }

    func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        if let reset = event as? MuxStreamResetEvent {
            self.resetAndClose(code: reset.code, error: nil)
            promise?.succeed(())
        } else {
            promise?.fail(ChannelError.operationUnsupported)
        }
    }

    func channelRead0(_ data: NIOAny) {}
    func errorCaught0(error: Error) {}

    // MARK: Inbound (called by the session)

    /// DATA arrived. Throws a flow-control or state error, which the session turns into a RESET.
    func receiveData(_ buffer: ByteBuffer) throws {
        try self.receiveWindow.receive(buffer.readableBytes)
        try self.state.receiveData()
        if self.closeRequested || buffer.readableBytes == 0 {
            // Closing: the application will not read it; keep the peer's view consistent and drop.
            // Empty: nothing to deliver, and queueing it would let a peer that sends empty frames
            // (they cost no window) grow the queue of a stream that is not reading without bound.
            return
        }
        self.bufferedInboundBytes += buffer.readableBytes
        self.pendingReads.append(.data(buffer, pinned: 0))
        self.tryToRead()
        self.keepWaitingPayloadCompact()
    }

    /// A payload still waiting for a reader after `tryToRead` is often a slice of a much larger
    /// read buffer, which it keeps alive for as long as the application does not read: a slow
    /// reader's window could cost several times its size. Such slices are kept as they are while
    /// the stream's and the session's budgets (`maxPinnedReadCapacityPerStream`,
    /// `maxPinnedReadCapacity`) allow, so that readers briefly behind cost
    /// no copy (copying every waiting payload cost the agent a fifth of its CPU under 8 bulk
    /// streams); past it they are copied, several into one buffer of `compactionBufferSize`.
    private func keepWaitingPayloadCompact() {
        guard let last = self.pendingReads.last, case .data(let held, _) = last,
            held.storageCapacity > 2 * held.readableBytes + 4096
        else { return }
        let lastIndex = self.pendingReads.index(before: self.pendingReads.endIndex)
        if self.session?.pinReadBuffer(of: held, for: &self.pinnedBuffers) ?? false {
            self.pendingReads[lastIndex] = .data(held, pinned: held.storageCapacity)
            return
        }
        // Append to the previous payload when it is a copy of ours with room left; it is taken
        // out of the queue while written to, so that the write does not copy it again.
        if lastIndex != self.pendingReads.startIndex {
            let previousIndex = self.pendingReads.index(before: lastIndex)
            if case .data(var tail, let pinned) = self.pendingReads[previousIndex], pinned == Self.ownCopy,
                tail.readableBytes + held.readableBytes <= Self.compactionBufferSize
            {
                self.pendingReads[previousIndex] = .fin
                tail.writeImmutableBuffer(held)
                self.pendingReads[previousIndex] = .data(tail, pinned: Self.ownCopy)
                self.pendingReads.removeLast()
                return
            }
        }
        var copy = self.allocator.buffer(capacity: held.readableBytes)
        copy.writeImmutableBuffer(held)
        self.pendingReads[lastIndex] = .data(copy, pinned: Self.ownCopy)
    }

    /// FIN arrived.
    func receiveFin() throws {
        _ = try self.state.receiveFin()
        if !self.closeRequested { self.pendingReads.append(.fin) }
        self.tryToRead()
        self.closeIfDone()
    }

    /// RESET arrived: with NO_ERROR the peer read to our FIN and wants no more; deliver what is
    /// buffered and close quietly. Otherwise drop everything and close with the error.
    func receiveReset(_ code: MuxErrorCode) {
        self.state.reset()
        if code == .noError {
            self.failPendingWrites(ChannelError.outputClosed)
            if self.pendingReads.isEmpty || self.lifecycle != .active {
                self.closeNow(error: nil)
            } else {
                self.tryToRead()
                self.closeIfDone()
            }
        } else {
            self.closeNow(error: MuxError.streamReset(code))
        }
    }

    /// The peer granted window.
    func receiveWindowUpdate(_ increment: UInt32) throws {
        try self.sendWindow.grant(increment)
        self.sendPendingWrites()
    }

    /// The session is gone (transport closed or session error).
    func sessionClosed(error: Error) {
        self.state.reset()
        self.closeNow(error: error)
    }

    /// Resets the stream with `code` (sending RESET) and closes it; `error` is fired into the
    /// pipeline when given.
    func resetAndClose(code: MuxErrorCode, error: Error?) {
        guard self.lifecycle != .closed else { return }
        self.state.reset()
        self.session?.sendReset(streamID: self.streamID, code: code)
        self.closeNow(error: error)
    }

    // MARK: Reading

    private func tryToRead() {
        guard self.unsatisfiedRead, self.lifecycle == .active, !self.pendingReads.isEmpty else { return }
        self.unsatisfiedRead = false
        var delivered = 0
        var sawFin = false
        while let item = self.pendingReads.popFirst() {
            switch item {
            case .data(let buffer, let pinned):
                delivered += buffer.readableBytes
                self.bufferedInboundBytes -= buffer.readableBytes
                if pinned > 0 { self.releasePinned(buffer) }
                self.pipeline.fireChannelRead(buffer)
            case .fin:
                sawFin = true
            }
            if self.lifecycle != .active { return }
        }
        if delivered > 0 || (sawFin && self.bytesAwaitingReadComplete > 0) {
            self.bytesAwaitingReadComplete += delivered
            // Inside the session's read burst, read-complete comes at its end (as a socket's
            // does after several reads); a FIN completes at once, so that no reader sees the end
            // of input before the completion of what preceded it.
            if !sawFin, self.listedForReadComplete {
                // Already listed for this burst's end.
            } else if !sawFin, self.session?.deferReadComplete(of: self) ?? false {
                self.listedForReadComplete = true
            } else {
                self.completeReads()
            }
        }
        if sawFin, self.lifecycle == .active {
            if self.allowRemoteHalfClosure {
                self.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                self.closeIfDone()
            } else {
                self.close0(error: ChannelError.eof, mode: .all, promise: nil)
            }
        }
        if self.lifecycle == .active, self.autoRead {
            self.pipeline.read()
        }
        self.closeIfDone()
    }

    /// Fires the read-complete owed for delivered bytes and credits them to the peer's window.
    private func completeReads() {
        let bytes = self.bytesAwaitingReadComplete
        guard bytes > 0, self.lifecycle == .active else { return }
        self.bytesAwaitingReadComplete = 0
        self.pipeline.fireChannelReadComplete()
        if self.lifecycle == .active, self.state.canReceive {
            self.session?.streamConsumed(self, bytes: bytes)
        }
    }

    /// The session's read burst ended.
    func parentReadComplete() {
        self.listedForReadComplete = false
        self.completeReads()
    }

    /// Called by the session after the receive window said to send an update.
    func windowConsumed(_ bytes: Int, now: NIODeadline, rtt: TimeAmount?, budget: Int) -> (increment: UInt32, grewBy: Int)? {
        self.receiveWindow.consume(bytes, now: now, rtt: rtt, growthBudget: budget)
    }

    private func releasePinned(_ buffer: ByteBuffer) {
        self.pinnedBuffers.unpin(buffer)
        self.session?.unpinReadBuffer(of: buffer)
    }

    private func dropPendingReads(keepFin: Bool) {
        var finPending = false
        while let item = self.pendingReads.popFirst() {
            switch item {
            case .fin: finPending = true
            case .data(let buffer, let pinned): if pinned > 0 { self.releasePinned(buffer) }
            }
        }
        self.bufferedInboundBytes = 0
        if keepFin && finPending { self.pendingReads.append(.fin) }
    }

    // MARK: Writing

    /// Sends as much flushed data as the window and the transport allow, then a requested FIN.
    func sendPendingWrites() {
        guard self.lifecycle == .active, let session = self.session else { return }
        var wrote = false
        while self.flushedWriteCount > 0, self.state.canSend {
            guard session.transportIsWritable else {
                session.waitForTransport(self)
                break
            }
            let available = self.sendWindow.available
            if available == 0 { break }
            let index = self.pendingWrites.startIndex
            let size = self.pendingWrites[index].buffer.readableBytes
            let chunk = min(size, available, session.peerMaxFrameSize)
            if chunk == size {
                let write = self.pendingWrites.removeFirst()
                self.flushedWriteCount -= 1
                if size > 0 {
                    self.sendWindow.consume(size)
                    session.writeData(streamID: self.streamID, payload: write.buffer, promise: write.promise)
                } else {
                    write.promise?.succeed(())
                }
            } else {
                let slice = self.pendingWrites[index].buffer.readSlice(length: chunk)!
                self.sendWindow.consume(chunk)
                session.writeData(streamID: self.streamID, payload: slice, promise: nil)
            }
            self.bufferedOutboundBytes -= chunk
            wrote = true
        }
        if self.finRequested, self.pendingWrites.isEmpty, self.state.canSend {
            let promise = self.finPromise
            self.finPromise = nil
            let fullyClosed = (try? self.state.sendFin()) ?? false
            session.writeFin(streamID: self.streamID, promise: promise)
            if self.closeRequested && !fullyClosed {
                // We will not read the rest: tell the peer to stop sending.
                self.state.reset()
                session.sendReset(streamID: self.streamID, code: .noError)
            }
            wrote = true
        }
        if wrote {
            session.needsFlush()
            self.updateWritability()
            self.closeIfDone()
        }
    }

    private func updateWritability() {
        let writable = self.flags.withLockedValue { $0.isWritable }
        if writable, self.bufferedOutboundBytes > self.waterMark.high {
            self.flags.withLockedValue { $0.isWritable = false }
            self.pipeline.fireChannelWritabilityChanged()
        } else if !writable, self.bufferedOutboundBytes < self.waterMark.low {
            self.flags.withLockedValue { $0.isWritable = true }
            self.pipeline.fireChannelWritabilityChanged()
        }
    }

    private func failPendingWrites(_ error: Error) {
        while let write = self.pendingWrites.popFirst() {
            write.promise?.fail(error)
        }
        self.flushedWriteCount = 0
        self.bufferedOutboundBytes = 0
        if let promise = self.finPromise {
            self.finPromise = nil
            promise.fail(error)
        }
    }

    // MARK: Closing

    /// Closes once both directions are done and everything received was delivered (or dropped by
    /// a close request).
    private func closeIfDone() {
        guard self.lifecycle != .closed, self.state.isClosed, self.pendingWrites.isEmpty else { return }
        if self.closeRequested || (self.lifecycle == .active && self.pendingReads.isEmpty) {
            self.closeNow(error: nil)
        }
    }

    private func closeNow(error: Error?) {
        guard self.lifecycle != .closed else { return }
        let wasActive = self.lifecycle == .active
        self.lifecycle = .closed
        self.flags.withLockedValue { $0.isActive = false }
        self.dropPendingReads(keepFin: false)
        if wasActive, self.bytesAwaitingReadComplete > 0 {
            // Reads delivered in this burst complete before the close is seen (a splice flushes
            // what it forwarded). The stream is already closed: a handler's read() or close()
            // here cannot deliver what the close dropped or close it a second time.
            self.bytesAwaitingReadComplete = 0
            self.pipeline.fireChannelReadComplete()
        }
        self.failPendingWrites(error ?? ChannelError.ioOnClosedChannel)
        let session = self.session
        self.session = nil
        session?.streamClosed(self)
        if let error {
            self.pipeline.fireErrorCaught(error)
        }
        if wasActive {
            self.pipeline.fireChannelInactive()
        }
        let promises = self.closePromises
        self.closePromises = []
        self.eventLoop.execute {
            if wasActive { self.pipeline.fireChannelUnregistered() }
            self.removeHandlers(pipeline: self.pipeline)
            self.closePromise.succeed(())
            for promise in promises { promise.succeed(()) }
        }
    }
}

/// Read the stream ID of a Mux stream channel: `channel.getOption(MuxStreamIDOption())`.
public struct MuxStreamIDOption: ChannelOption, Sendable {
    public typealias Value = UInt32
    public init() {}
}

/// Trigger on a stream channel (`triggerUserOutboundEvent`) to reset it with an error code instead of
/// closing gracefully.
public struct MuxStreamResetEvent: Sendable, Hashable {
    public var code: MuxErrorCode
    public init(code: MuxErrorCode) { self.code = code }
}
