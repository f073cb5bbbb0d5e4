import NIOCore
import Operations

/// A passive tap on a tunnel stream, ahead of the glue to the local service: every byte passes
/// through unchanged and in order, copies go to the tunnel's counters and, while the stream looks
/// like HTTP/1, to a `StreamExchangeTap` whose finished exchanges the inspector records.
///
/// Reads are the relay's bytes (the visitor's requests), writes the service's (its answers). A
/// byte buffer's copy shares its storage, so tapping costs no copy of the data.
final class StreamTapHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let observers: AgentObservers
    private let tunnel: String
    private let client: String?
    private var tap: StreamExchangeTap
    private var closed = false

    init(observers: AgentObservers, tunnel: String, host: String?, client: String?) {
        self.observers = observers
        self.tunnel = tunnel
        self.client = client
        self.tap = StreamExchangeTap(tunnel: tunnel, host: host, capture: observers.capture(for: tunnel))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        observers.traffic.streamOpened(tunnel: tunnel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        observers.traffic.carried(tunnel: tunnel, toAgent: bytes.readableBytes, toVisitor: 0)
        if tap.observing { tap.requestBytes(bytes, now: .now()) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        observers.traffic.carried(tunnel: tunnel, toAgent: 0, toVisitor: bytes.readableBytes)
        if tap.observing {
            let now = NIODeadline.now()
            for exchange in tap.responseBytes(bytes, now: now) { observers.finished(exchange, client: client, now: now) }
        }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The service closed its side: an answer that runs until the close is complete.
        if mode != .input { answerEnded() }
        context.close(mode: mode, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        answerEnded()
        if !closed {
            closed = true
            observers.traffic.streamClosed(tunnel: tunnel)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !closed {
            closed = true
            observers.traffic.streamClosed(tunnel: tunnel)
        }
    }

    private func answerEnded() {
        if let exchange = tap.responseEnded() { observers.finished(exchange, client: client, now: .now()) }
    }
}
