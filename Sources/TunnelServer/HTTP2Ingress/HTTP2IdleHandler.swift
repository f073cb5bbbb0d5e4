import NIOCore
import NIOHTTP2

/// Closes a visitor's h2 connection that has had no open stream for `idleTimeout` (as the
/// HTTP/1 ingress closes a keep-alive connection idle between requests), so idle connections
/// cannot hold descriptors forever. Counts streams through NIOHTTP2's stream delegate
/// (`streamDelegate`; the inline multiplexer passes no stream events down the pipeline); sits
/// after `NIOHTTP2Handler` in the connection's pipeline. Also closes the connection's idle
/// upstreams (`HTTP2UpstreamPool`) when the connection goes.
final class HTTP2IdleHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    /// Tells the handler of streams opening and closing (called on the connection's loop).
    struct StreamCounter: NIOHTTP2StreamDelegate {
        let handler: NIOLoopBound<HTTP2IdleHandler>

        func streamCreated(_ id: HTTP2StreamID, channel: Channel) {
            handler.value.streamOpened()
        }

        func streamClosed(_ id: HTTP2StreamID, channel: Channel) {
            handler.value.streamClosed()
        }
    }

    private let idleTimeout: TimeAmount
    private let pool: HTTP2UpstreamPool
    private var open = 0
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(idleTimeout: TimeAmount, pool: HTTP2UpstreamPool) {
        self.idleTimeout = idleTimeout
        self.pool = pool
    }

    /// The delegate to give NIOHTTP2 (made on the connection's loop).
    func streamDelegate(on loop: EventLoop) -> StreamCounter {
        StreamCounter(handler: NIOLoopBound(self, eventLoop: loop))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if open == 0 { arm() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        pool.close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool.close()
        context.fireChannelInactive()
    }

    /// NIOHTTP2 reports a protocol error after answering it (RST_STREAM for a stream, GOAWAY for
    /// the connection) but leaves closing to us. With no stream open (garbage instead of frames,
    /// a broken preface), nothing is lost by closing at once; otherwise the streams finish and the
    /// idle timer closes the connection after them.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if open == 0 { context.close(promise: nil) }
    }

    fileprivate func streamOpened() {
        open += 1
        timer?.cancel()
        timer = nil
    }

    fileprivate func streamClosed() {
        open = max(0, open - 1)
        if open == 0 { arm() }
    }

    private func arm() {
        guard let context else { return }
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
    }
}
