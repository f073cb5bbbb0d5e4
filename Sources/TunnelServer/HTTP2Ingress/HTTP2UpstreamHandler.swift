import NIOCore
import NIOHTTP2
import Shared

/// The upstream end of one visitor h2 stream, on the upstream's loop: an h2c stream to the local
/// service (inside a Mux stream), or a Mux stream speaking HTTP/1.1 behind
/// `HTTP1UpstreamTranslator`; either way it sees frame payloads. Passes the answer's parts to the
/// visitor's stream handler and writes the request's parts it is given; reads only while the
/// visitor's stream is writable.
///
/// An `http1` upstream that completed an exchange with a keep-alive answer waits in its visitor
/// connection's `HTTP2UpstreamPool` when released, and serves the next stream that claims it.
final class HTTP2UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Where an idle upstream goes back to.
    struct Reuse: Sendable {
        var pool: CrossLoopRef<HTTP2UpstreamPool>
        var tunnel: String
        var serial: Int
    }

    /// Which exchange this is (the visitor stream's count of open attempts): events of an
    /// attempt, or an exchange, that is over never reach the visitor.
    private var id: Int
    private var ingress: CrossLoopRef<HTTP2StreamHandler>
    /// Closed with this handler's channel: the Mux stream an h2c stream lives in.
    private let carrier: Channel?
    private let reuse: Reuse?
    private var partnerWritable: Bool
    private var pendingRead = false
    private var sawHead = false
    private var context: ChannelHandlerContext?
    private var closeRequested = false
    private var requestDone = false
    private var responseDone = false
    /// The origin's answer allows another request on this connection.
    private var keepAlive = true
    /// In the pool, waiting for the next exchange.
    private var idle = false

    init(id: Int, ingress: CrossLoopRef<HTTP2StreamHandler>, partnerWritable: Bool, carrier: Channel? = nil, reuse: Reuse? = nil) {
        self.id = id
        self.ingress = ingress
        self.partnerWritable = partnerWritable
        self.carrier = carrier
        self.reuse = reuse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if closeRequested { close() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !idle else {
            // An answer nobody asked for: this connection is out of step, never reuse it.
            context.close(promise: nil)
            return
        }
        guard let part = HTTP2StreamPart.received(self.unwrapInboundIn(data), sawHead: &sawHead) else { return }
        if part.endsMessage { responseDone = true }
        let id = self.id
        ingress.run { $0.upstreamPart(id, part) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let id = self.id
        ingress.run { $0.upstreamReadComplete(id) }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        carrier?.close(promise: nil)
        if let reuse {
            reuse.pool.run { $0.remove(tunnel: reuse.tunnel, serial: reuse.serial) }
        }
        let id = self.id
        ingress.run { $0.upstreamClosed(id) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HTTP1UpstreamTranslator.NotKeepAlive {
            keepAlive = false
            return
        }
        // The origin ended its side: an answer it had not completed never will be.
        if let e = event as? ChannelEvent, e == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        let id = self.id
        ingress.run { $0.upstreamWritabilityChanged(id, writable) }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partnerWritable || idle {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: calls from the visitor's side (on this handler's loop)

    fileprivate func write(_ part: HTTP2StreamPart) {
        if part.endsMessage { requestDone = true }
        context?.write(self.wrapOutboundOut(part.payload), promise: nil)
    }

    fileprivate func flush() {
        context?.flush()
    }

    fileprivate func close() {
        closeRequested = true
        if let context {
            context.close(promise: nil)
        }
        carrier?.close(promise: nil)
    }

    /// The visitor stream is done with this upstream (and has put it in the pool): it waits there
    /// for the next exchange after a complete keep-alive one, else it closes (and a stream that
    /// takes it from the pool finds it gone when it claims it).
    fileprivate func release() {
        guard reuse != nil, let context, context.channel.isActive, requestDone, responseDone, keepAlive, !closeRequested else {
            return close()
        }
        idle = true
        partnerWritable = true
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    /// A visitor stream takes this idle upstream for its exchange; false if it closed meanwhile.
    fileprivate func claim(id: Int, ingress: CrossLoopRef<HTTP2StreamHandler>, partnerWritable: Bool) -> Bool {
        guard idle, !closeRequested, let context, context.channel.isActive else { return false }
        idle = false
        self.id = id
        self.ingress = ingress
        self.partnerWritable = partnerWritable
        sawHead = false
        requestDone = false
        responseDone = false
        return true
    }

    fileprivate func partnerWritabilityChanged(_ writable: Bool) {
        partnerWritable = writable
        if writable, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    fileprivate func startReading() {
        guard let context else { return }
        // An h2c carrier (the Mux stream) reads freely from now on: NIOHTTP2 windows pace it.
        if let carrier {
            try? carrier.resumeAutoRead()
            carrier.read()
        }
        try? context.channel.resumeAutoRead()
        read(context: context)
    }
}

extension CrossLoopRef where Handler == HTTP2UpstreamHandler {
    func write(_ part: HTTP2StreamPart) { run { $0.write(part) } }
    func flush() { run { $0.flush() } }
    func close() { run { $0.close() } }
    func release() { run { $0.release() } }
    func setPartnerWritable(_ writable: Bool) { run { $0.partnerWritabilityChanged(writable) } }
    /// The stream was opened with reads off (nothing to deliver them to yet); from now on the
    /// handler paces them.
    func startReading() { run { $0.startReading() } }

    /// Claims an idle upstream for a new exchange; the answer comes back on `loop`.
    func claim(id: Int, ingress: CrossLoopRef<HTTP2StreamHandler>, partnerWritable: Bool, on loop: EventLoop) -> EventLoopFuture<Bool> {
        let promise = loop.makePromise(of: Bool.self)
        run { promise.succeed($0.claim(id: id, ingress: ingress, partnerWritable: partnerWritable)) }
        return promise.futureResult
    }
}
