import NIOCore

/// Buffers the first bytes of a connection while a protocol handshake (HTTP head, SOCKS greeting,
/// a connector's reply) is parsed, then leaves the pipeline and hands any bytes that came after
/// the handshake to the next handler, so nothing the peer sent early is lost.
///
/// Parsers are plain functions over a `ByteBuffer` that return `nil` while incomplete; the
/// buffer is bounded by `limit` so a peer that never finishes its handshake costs a bounded amount.
public final class HandshakeReader: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = NIOAny

    /// Default cap on bytes held before a handshake completes (a request head over this is refused).
    public static let defaultLimit = 64 * 1024

    private var buffer: ByteBuffer?
    private let limit: Int
    private var waiter: ((inout ByteBuffer) -> Bool)?
    private var failWaiter: ((Error) -> Void)?
    /// The first error the connection reported while this reader was in the pipeline (read on
    /// the channel's loop), e.g. a TLS alert that arrived before the caller took over.
    public private(set) var terminalError: Error?
    private var inputClosed = false
    private var heldRead = false
    private var context: ChannelHandlerContext?

    public init(limit: Int = HandshakeReader.defaultLimit) {
        self.limit = limit
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.buffer = context.channel.allocator.buffer(capacity: 0)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.fail(EngineError(.closed, "handshake reader removed"))
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if self.buffer == nil || self.buffer!.readableBytes == 0 {
            self.buffer = incoming
        } else {
            self.buffer!.writeBuffer(&incoming)
        }
        if self.buffer!.readableBytes > self.limit, self.waiter != nil {
            self.fail(EngineError(.limitExceeded, "handshake larger than \(self.limit) bytes"))
            return
        }
        self.attempt()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            self.inputClosed = true
            self.fail(EngineError(.closed, "peer closed the connection during the handshake"))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.fail(EngineError(.closed, "connection closed during the handshake"))
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.fail(error)
    }

    /// Backpressure while nobody consumes: past the limit the peer is not read any further, so a
    /// connection whose handler is still deciding where to send it cannot grow this buffer.
    public func read(context: ChannelHandlerContext) {
        if let buffer, buffer.readableBytes >= limit {
            heldRead = true
        } else {
            context.read()
        }
    }

    public func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let rest = self.buffer, rest.readableBytes > 0 {
            self.buffer = nil
            context.fireChannelRead(self.wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        if self.inputClosed {
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        let resume = self.heldRead
        context.leavePipeline(removalToken: removalToken)
        if resume { context.channel.read() }
    }

    /// Runs `parser` over the buffered bytes now and after every read until it returns a value.
    /// Must be called on the channel's event loop.
    /// Bytes that arrived before the peer closed still count: a request sent together with its
    /// FIN (before anyone asked to parse it) is parsed, and only a parse that cannot complete on
    /// them fails with the close.
    func parse<R: Sendable>(_ parser: @escaping (inout ByteBuffer) throws -> R?, promise: EventLoopPromise<R>) {
        precondition(self.waiter == nil, "one parse at a time")
        self.waiter = { buffer in
            let saved = buffer.readerIndex
            do {
                if let result = try parser(&buffer) {
                    promise.succeed(result)
                    return true
                }
                buffer.moveReaderIndex(to: saved)
                return false
            } catch {
                promise.fail(error)
                return true
            }
        }
        self.failWaiter = { promise.fail($0) }
        self.attempt()
        if self.waiter != nil, let error = self.terminalError {
            self.fail(error)
        }
    }

    private func attempt() {
        guard let waiter = self.waiter, self.buffer != nil else { return }
        if waiter(&self.buffer!) {
            self.waiter = nil
            self.failWaiter = nil
        }
    }

    private func fail(_ error: Error) {
        if self.terminalError == nil { self.terminalError = error }
        let fail = self.failWaiter
        self.waiter = nil
        self.failWaiter = nil
        fail?(error)
    }
}
