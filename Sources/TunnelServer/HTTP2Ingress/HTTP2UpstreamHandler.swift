import NIOCore
import NIOHTTP2
import Shared

/// The upstream end of one visitor h2 stream, on the upstream's loop: an h2c stream to the local
/// service (inside a Mux stream), or a Mux stream speaking HTTP/1.1 behind
/// `HTTP1UpstreamTranslator`; either way it sees frame payloads. Passes the answer's parts to the
/// visitor's stream handler and writes the request's parts it is given; reads only while the
/// visitor's stream is writable.
final class HTTP2UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Which open attempt this is: events of an attempt that lost never reach the visitor.
    private let id: Int
    private let ingress: CrossLoopRef<HTTP2StreamHandler>
    /// Closed with this handler's channel: the Mux stream an h2c stream lives in.
    private let carrier: Channel?
    private var partnerWritable: Bool
    private var pendingRead = false
    private var sawHead = false
    private var context: ChannelHandlerContext?
    private var closeRequested = false

    init(id: Int, ingress: CrossLoopRef<HTTP2StreamHandler>, partnerWritable: Bool, carrier: Channel? = nil) {
        self.id = id
        self.ingress = ingress
        self.partnerWritable = partnerWritable
        self.carrier = carrier
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if closeRequested { close() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let part = HTTP2StreamPart.received(self.unwrapInboundIn(data), sawHead: &sawHead) else { return }
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
        let id = self.id
        ingress.run { $0.upstreamClosed(id) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
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
        if partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: calls from the visitor's side (on this handler's loop)

    fileprivate func write(_ part: HTTP2StreamPart) {
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
            if let options = carrier.syncOptions, (try? options.getOption(ChannelOptions.autoRead)) == false {
                try? options.setOption(ChannelOptions.autoRead, value: true)
            }
            carrier.read()
        }
        if let options = context.channel.syncOptions, (try? options.getOption(ChannelOptions.autoRead)) == false {
            try? options.setOption(ChannelOptions.autoRead, value: true)
        }
        read(context: context)
    }
}

extension CrossLoopRef where Handler == HTTP2UpstreamHandler {
    func write(_ part: HTTP2StreamPart) { run { $0.write(part) } }
    func flush() { run { $0.flush() } }
    func close() { run { $0.close() } }
    func setPartnerWritable(_ writable: Bool) { run { $0.partnerWritabilityChanged(writable) } }
    /// The stream was opened with reads off (nothing to deliver them to yet); from now on the
    /// handler paces them.
    func startReading() { run { $0.startReading() } }
}
