import NIOCore
import NIOHTTP1

/// The upstream half of the HTTP proxy: encodes requests to the origin and passes its response
/// parts back, reading only while the client can take them.
final class HTTPProxyClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private weak var server: HTTPProxyServerHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    private init(server: HTTPProxyServerHandler) {
        self.server = server
    }

    /// Puts the HTTP client codec on the upstream connection and releases its handshake reader.
    static func install(on io: Handshake, server: HTTPProxyServerHandler) throws -> HTTPProxyClientHandler {
        let handler = HTTPProxyClientHandler(server: server)
        let ops = io.channel.pipeline.syncOperations
        try ops.addHandler(HTTPRequestEncoder())
        try ops.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
        try ops.addHandler(handler)
        _ = io.finishOnLoop()
        return handler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    var isActive: Bool { self.context?.channel.isActive ?? false }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func forward(_ part: HTTPClientRequestPart) {
        guard let context else { return }
        switch part {
        case .end: context.writeAndFlush(self.wrapOutboundOut(part), promise: nil)
        default: context.write(self.wrapOutboundOut(part), promise: nil)
        }
    }

    func flush() {
        self.context?.flush()
    }

    /// Closes the origin connection; it no longer reports to the client side.
    func close() {
        self.context?.close(promise: nil)
        self.server = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.server?.responsePart(self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.server?.responseFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.server?.upstreamClosed(self)
        context.fireChannelInactive()
    }

    /// The origin ended its side. A half-closed origin connection is of no further use to HTTP/1.1
    /// (the decoder, before this event, has already ended a body delimited by the close), and the
    /// dialer allows half-close, so unanswered the socket would stay until the client left.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Both ways: the client side reads only while this connection takes what it forwards.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.server?.upstreamWritabilityChanged(self, writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.server?.clientIsWritable ?? true {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func clientBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }
}
