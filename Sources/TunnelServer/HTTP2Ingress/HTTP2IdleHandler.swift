import NIOCore
import NIOHTTP2

/// Closes a visitor's h2 connection that has had no open stream for `idleTimeout` (as the
/// HTTP/1 ingress closes a keep-alive connection idle between requests), so idle connections
/// cannot hold descriptors forever. Counts streams from NIOHTTP2's stream events; sits after
/// `NIOHTTP2Handler` in the connection's pipeline. Also closes the connection's idle upstreams
/// (`HTTP2UpstreamPool`) when the connection goes.
final class HTTP2IdleHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let idleTimeout: TimeAmount
    private let pool: HTTP2UpstreamPool
    private var open = 0
    private var timer: Scheduled<Void>?

    init(idleTimeout: TimeAmount, pool: HTTP2UpstreamPool) {
        self.idleTimeout = idleTimeout
        self.pool = pool
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        pool.close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool.close()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is NIOHTTP2StreamCreatedEvent {
            open += 1
            timer?.cancel()
            timer = nil
        } else if event is StreamClosedEvent {
            open = max(0, open - 1)
            if open == 0 { arm(context) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// NIOHTTP2 reports a protocol error after answering it (RST_STREAM for a stream, GOAWAY for
    /// the connection) but leaves closing to us. With no stream open (garbage instead of frames,
    /// a broken preface), nothing is lost by closing at once; otherwise the streams finish and the
    /// idle timer closes the connection after them.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if open == 0 { context.close(promise: nil) }
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
    }
}
