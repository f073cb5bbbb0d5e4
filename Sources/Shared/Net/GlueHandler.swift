import NIOCore

/// Joins two byte channels: what one reads, the other writes.
///
/// Backpressure: a side only asks its channel for more bytes while the partner is writable, so a
/// slow receiver stalls its sender instead of growing a buffer. Half-close: end of input on one
/// side becomes `close(mode: .output)` on the other; each side closes once both of its directions
/// have ended.
///
/// The two channels may live on different event loops (a public connection and a Mux stream of an
/// agent session usually do): calls to the partner then hop to its loop, and each side keeps its
/// own copy of the partner's writability. On one loop the calls are direct.
public final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var partner: CrossLoopRef<GlueHandler>?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var partnerWritable = true
    private var inputEnded = false
    private var outputEnded = false
    private var outputClosed: EventLoopFuture<Void>?
    private var failed = false

    private init() {}

    /// Adds a matched pair of glue handlers to the two channels. Call on `a`'s event loop; `b`'s
    /// handler is added on `b`'s loop (at once when they share one).
    public static func join(_ a: Channel, _ b: Channel) throws {
        a.eventLoop.preconditionInEventLoop()
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = CrossLoopRef(second, on: b.eventLoop)
        second.partner = CrossLoopRef(first, on: a.eventLoop)
        try a.pipeline.syncOperations.addHandler(first)
        if b.eventLoop === a.eventLoop {
            try b.pipeline.syncOperations.addHandler(second)
            try startReading(b)
        } else {
            let box = CrossLoopRef(second, on: b.eventLoop)
            box.run { second in
                do {
                    try b.pipeline.syncOperations.addHandler(second)
                    try startReading(b)
                } catch {
                    b.close(promise: nil)
                }
            }
        }
        try startReading(a)
    }

    /// A channel may have been kept from reading (autoRead off) until it had somewhere to send its
    /// bytes; from now on the glue paces it, so it reads on its own again.
    private static func startReading(_ channel: Channel) throws {
        try channel.resumeAutoRead()
        channel.read()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.partnerWritable = true
        if !context.channel.isActive {
            // Joined to a channel that already closed: the partner must not wait for it.
            self.partner?.run { $0.partnerClosed() }
        } else if !context.channel.isWritable {
            self.partner?.run { $0.partnerWritabilityChanged(false) }
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.partner?.run { $0.partnerWrite(buffer) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.run { $0.partnerFlush() }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // Without an error this is an orderly end (NIO closes a socket whose output was shut when
        // its input ends, without an inputClosed event): the partner finishes writing what it has
        // queued, then ends its output. Errors were passed on as an abrupt close in errorCaught.
        if !self.failed && !self.inputEnded {
            self.inputEnded = true
            self.partner?.run { $0.partnerEndOutput() }
        }
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            self.inputEnded = true
            self.partner?.run { $0.partnerEndOutput() }
            self.closeIfDone()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.failed = true
        self.partner?.run { $0.partnerClosed() }
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        self.partner?.run { $0.partnerWritabilityChanged(writable) }
        context.fireChannelWritabilityChanged()
    }

    // MARK: outbound

    public func read(context: ChannelHandlerContext) {
        if self.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    // MARK: calls from the partner (on this handler's loop)

    private func partnerWrite(_ buffer: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    /// The partner's input ended: end our output, keeping what is already queued.
    private func partnerEndOutput() {
        guard let context = self.context, !self.outputEnded else { return }
        self.outputEnded = true
        let channel = context.channel
        if self.inputEnded {
            // NIO turns an output close on a channel whose input is shut into a full close, which
            // drops unwritten bytes; so let the queued writes finish first, then close.
            context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.flush()
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure { _ in
            // The transport cannot half-close (or the socket is gone): end it fully.
            channel.close(promise: nil)
        }
        self.outputClosed = promise.futureResult
        context.close(mode: .output, promise: promise)
    }

    private func partnerClosed() {
        self.context?.close(promise: nil)
    }

    private func partnerWritabilityChanged(_ writable: Bool) {
        self.partnerWritable = writable
        if writable, self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    /// Both directions finished: once the output's close (which waits for queued writes) is done,
    /// nothing more can flow through this side.
    private func closeIfDone() {
        guard self.inputEnded && self.outputEnded, let channel = self.context?.channel else { return }
        if let outputClosed = self.outputClosed {
            outputClosed.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
