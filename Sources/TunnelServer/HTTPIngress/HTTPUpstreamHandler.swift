import NIOCore
import Shared

/// The stream end of an HTTP ingress: passes the origin's bytes and the stream's state to the
/// ingress handler on its loop, and reads the stream only while the public connection is writable.
final class HTTPUpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let id: Int
    private let ingress: CrossLoopRef<HTTPIngressHandler>
    private var partnerWritable: Bool
    private var pendingRead = false
    private var context: ChannelHandlerContext?

    init(id: Int, ingress: CrossLoopRef<HTTPIngressHandler>, partnerWritable: Bool) {
        self.id = id
        self.ingress = ingress
        self.partnerWritable = partnerWritable
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context holds this handler: keeping it after removal is a cycle that kept every
    /// stream's handler, context and ingress handler alive (~35 KB per public connection).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        let id = self.id
        ingress.run { $0.upstreamRead(id, bytes) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let id = self.id
        ingress.run { $0.upstreamReadComplete(id) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            let id = self.id
            ingress.run { $0.upstreamInputEnded(id) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let id = self.id
        ingress.run { $0.upstreamEnded(id) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let id = self.id
        let writable = context.channel.isWritable
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

    fileprivate func partnerWritabilityChanged(_ writable: Bool) {
        partnerWritable = writable
        if writable, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }
}

extension CrossLoopRef where Handler == HTTPUpstreamHandler {
    /// The public connection's writability, for the stream's read pacing.
    func setPartnerWritable(_ writable: Bool) {
        run { $0.partnerWritabilityChanged(writable) }
    }

    /// The stream was opened with reads off (nothing to deliver them to yet); from now on the
    /// handler paces them.
    func startReading(_ stream: Channel) {
        run { _ in
            try? stream.resumeAutoRead()
            stream.read()
        }
    }
}
