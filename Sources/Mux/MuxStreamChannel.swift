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

    private let closePromise: EventLoopPromise<Void>
    private var _pipeline: ChannelPipeline!
    let flags = MuxLockedValue(Flags())

    /// What other threads may read (`isActive`, `isWritable`), kept behind the lock; everything
    /// else is loop-confined.
    struct Flags {
        var isActive = false
        var isWritable = true
    }

    // MARK: Loop-confined state
    //
    // Internal rather than private only so that the extensions in `MuxStreamChannel+Options`,
    // `+Reading` and `+Writing` (apart only for size) reach it; nothing else touches it but tests.

    /// The channel's own lifecycle, apart from the protocol's `MuxStreamState`: idle until the
    /// initializer's handlers are in place, then active, then closed once.
    enum Lifecycle {
        case idle, active, closed
    }

    /// What was received and waits for the reader's `read()` (only delivered bytes are granted
    /// back as window).
    enum PendingRead {
        /// `pinned`: the capacity of the read buffer this payload is a small slice of (counted
        /// in the budgets), 0 for a payload as received, `ownCopy` for a copy of ours that later
        /// payloads may be appended to.
        case data(ByteBuffer, pinned: Int)
        case fin
    }

    /// Waiting payloads copied out of their read buffers are appended to one another up to this
    /// size (each copy starts right-sized and grows).
    static let compactionBufferSize = 64 * 1024
    static let ownCopy = -1

    /// A write waiting for window or for the transport, with its promise.
    struct PendingWrite {
        var buffer: ByteBuffer
        var promise: EventLoopPromise<Void>?
    }

    /// The session that owns us. A strong reference: the session drops us when we close.
    var session: MuxSessionHandler?
    var lifecycle = Lifecycle.idle
    var state = MuxStreamState()
    var autoRead = true
    var allowRemoteHalfClosure = false
    var unsatisfiedRead = false

    var pendingReads = CircularBuffer<PendingRead>(initialCapacity: 4)
    /// Bytes received and not yet delivered to the pipeline (bounded by the receive window).
    var bufferedInboundBytes = 0
    /// Read buffers kept alive by payloads in `pendingReads` (also counted by the session).
    var pinnedBuffers = MuxPinnedBuffers()
    var pinnedCapacity: Int { self.pinnedBuffers.capacity }
    var receiveWindow: MuxReceiveWindow

    var pendingWrites = CircularBuffer<PendingWrite>(initialCapacity: 4)
    /// How many entries at the head of `pendingWrites` have been flushed.
    var flushedWriteCount = 0
    /// Bytes written by the application and not yet sent as DATA (bounded by the watermark while
    /// the writer honours writability).
    var bufferedOutboundBytes = 0
    var sendWindow = MuxSendWindow()
    var waterMark: ChannelOptions.Types.WriteBufferWaterMark

    /// A FIN waits behind the pending writes.
    var finRequested = false
    var finPromise: EventLoopPromise<Void>?
    /// `close()` was called while the peer's side was still open: after our FIN, we send
    /// RESET(NO_ERROR) so the peer stops sending.
    var closeRequested = false
    private var closePromises: [EventLoopPromise<Void>] = []
    /// True while the session lists us as waiting for the transport to become writable.
    var isWaitingForTransport = false
    /// Bytes delivered in the session's current read burst whose `channelReadComplete` (and
    /// window credit) waits for the burst's end, so that a reader which flushes on read-complete
    /// writes once per burst rather than once per frame.
    var bytesAwaitingReadComplete = 0
    var listedForReadComplete = false

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

    // MARK: Closing

    /// Closes once both directions are done and everything received was delivered (or dropped by
    /// a close request).
    func closeIfDone() {
        guard self.lifecycle != .closed, self.state.isClosed, self.pendingWrites.isEmpty else { return }
        if self.closeRequested || (self.lifecycle == .active && self.pendingReads.isEmpty) {
            self.closeNow(error: nil)
        }
    }

    func closeNow(error: Error?) {
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

/// Trigger on a stream channel (`triggerUserOutboundEvent`) to reset it with an error code instead of
/// closing gracefully.
public struct MuxStreamResetEvent: Sendable, Hashable {
    public var code: MuxErrorCode
    public init(code: MuxErrorCode) { self.code = code }
}
