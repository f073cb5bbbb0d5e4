import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Lets an `http1` upstream look like an h2 stream: h2 request parts (frame payloads) become an
/// HTTP/1.1 request for `HTTPRequestEncoder`, the `HTTPResponseDecoder`'s parts become h2 frame
/// payloads (`HTTP2HeaderMapping`). Sits on the Mux stream between NIO's HTTP/1 codec and
/// `HTTP2UpstreamHandler`.
///
/// A response head is held back until the next part or the end of the read, so an answer that is
/// complete in its head (a 204, an empty 200, a gRPC-style error) goes out as one HEADERS frame
/// with END_STREAM. After a complete exchange the translator is ready for the next one (the
/// upstream may be reused, `HTTP2UpstreamPool`).
final class HTTP1UpstreamTranslator: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTPClientRequestPart

    /// Told to the handler behind when an answer closes its connection (HTTP/1.0, or
    /// `Connection: close`): the upstream cannot carry another exchange.
    struct NotKeepAlive {}

    private var requestHeadSent = false
    private var heldHead: HTTPResponseHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            if head.status.code < 200 {
                fire(context, .headers(.init(headers: HTTP2HeaderMapping.h2Response(head))))
            } else {
                if !head.isKeepAlive { context.fireUserInboundEventTriggered(NotKeepAlive()) }
                heldHead = head
            }
        case .body(let bytes):
            releaseHead(context)
            fire(context, .data(.init(data: .byteBuffer(bytes))))
        case .end(let trailers):
            if let head = heldHead, trailers == nil {
                heldHead = nil
                fire(context, .headers(.init(headers: HTTP2HeaderMapping.h2Response(head), endStream: true)))
                return
            }
            releaseHead(context)
            if let trailers {
                fire(context, .headers(.init(headers: HTTP2HeaderMapping.h2Fields(trailers), endStream: true)))
            } else {
                fire(context, .data(.init(data: .byteBuffer(context.channel.allocator.buffer(capacity: 0)), endStream: true)))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        releaseHead(context)
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .headers(let h) where !requestHeadSent:
            requestHeadSent = true
            do {
                let head = try HTTP2HeaderMapping.http1Request(h.headers, endStream: h.endStream)
                context.write(self.wrapOutboundOut(.head(head)), promise: h.endStream ? nil : promise)
                if h.endStream {
                    requestHeadSent = false
                    context.write(self.wrapOutboundOut(.end(nil)), promise: promise)
                }
            } catch {
                promise?.fail(error)
                context.fireErrorCaught(error)
            }
        case .headers(let h):
            requestHeadSent = false
            context.write(self.wrapOutboundOut(.end(HTTP2HeaderMapping.http1Fields(h.headers))), promise: promise)
        case .data(let d):
            guard case .byteBuffer(let bytes) = d.data else {
                promise?.succeed()
                return
            }
            if d.endStream {
                requestHeadSent = false
                if bytes.readableBytes > 0 { context.write(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
                context.write(self.wrapOutboundOut(.end(nil)), promise: promise)
            } else if bytes.readableBytes > 0 {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: promise)
            } else {
                promise?.succeed()
            }
        default:
            promise?.succeed()
        }
    }

    private func releaseHead(_ context: ChannelHandlerContext) {
        guard let head = heldHead else { return }
        heldHead = nil
        fire(context, .headers(.init(headers: HTTP2HeaderMapping.h2Response(head))))
    }

    private func fire(_ context: ChannelHandlerContext, _ payload: HTTP2Frame.FramePayload) {
        context.fireChannelRead(self.wrapInboundOut(payload))
    }
}
