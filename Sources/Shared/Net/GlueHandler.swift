import NIOCore

/// Joins two byte channels on one event loop: what one reads, the other writes.
///
/// Backpressure: a side only asks its channel for more bytes while the partner is writable, so a
/// slow receiver stalls its sender instead of growing a buffer. Half-close: end of input on one
/// side becomes `close(mode: .output)` on the other, and both close once both directions ended.
public final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias OutboundIn = NIOAny
    public typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputEnded = false
    private var outputEnded = false

    private init() {}

    /// Adds a matched pair of glue handlers to the two channels. Must run on their shared event loop.
    public static func join(_ a: Channel, _ b: Channel) throws {
        precondition(a.eventLoop === b.eventLoop, "glued channels must share an event loop")
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        try a.pipeline.syncOperations.addHandler(first)
        try b.pipeline.syncOperations.addHandler(second)
        // A side may have gone quiet while its reader ran; restart reading now both are joined.
        a.read()
        b.read()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner?.partnerWrite(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.partner?.partnerCloseFull()
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            self.inputEnded = true
            self.partner?.partnerEndOutput()
            self.closeIfDone()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: outbound

    public func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerIsWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    // MARK: partner calls

    private func partnerWrite(_ data: NIOAny) {
        self.context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerEndOutput() {
        guard let context = self.context, !self.outputEnded else { return }
        self.outputEnded = true
        context.flush()
        let promise = context.eventLoop.makePromise(of: Void.self)
        let channel = context.channel
        promise.futureResult.whenFailure { _ in
            // The transport cannot half-close (or the socket is gone): end it fully.
            channel.close(promise: nil)
        }
        context.close(mode: .output, promise: promise)
        self.closeIfDone()
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerIsWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    /// Both directions finished: nothing more can flow, so release both sockets.
    private func closeIfDone() {
        guard let partner = self.partner else { return }
        if self.inputEnded && partner.inputEnded {
            self.context?.close(promise: nil)
            partner.context?.close(promise: nil)
        }
    }
}
