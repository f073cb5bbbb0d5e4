import NIOCore

/// Counts one tunnel stream into `StreamMetrics`: opened when added, closed with its channel, and
/// the bytes each way. Sits first in the stream's pipeline (next to the Mux stream), where the
/// bytes are the stream's own whatever the handlers after it make of them (HTTP/1 codec, h2
/// translation, a splice).
///
/// Bytes are summed on the loop and handed over at each read burst's end and each flush, not
/// per buffer: the backend (and the relay's totals table) take a lock each.
public final class StreamCountingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    // IOData: HTTP/1 and h2 encoders write it.
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    /// Which way the bytes read from the stream go, as `tunnel_bytes_total` names it.
    public enum Reads: Sendable {
        /// Read bytes go towards the local service (the agent's side of a stream).
        case inward
        /// Read bytes go towards the visitor (the relay's side).
        case outward
    }

    private let series: StreamMetrics.Series
    private let reads: Reads
    private let carried: ((_ read: Int, _ written: Int) -> Void)?
    private let closed: (@Sendable () -> Void)?
    private var read = 0
    private var written = 0
    private var counted = false

    /// - Parameters:
    ///   - carried: also told the bytes read from and written to the stream (on the loop).
    ///   - closed: also told when the stream's channel closed.
    public init(series: StreamMetrics.Series, reads: Reads, carried: ((_ read: Int, _ written: Int) -> Void)? = nil, closed: (@Sendable () -> Void)? = nil) {
        self.series = series
        self.reads = reads
        self.carried = carried
        self.closed = closed
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        series.open.increment()
        series.total.increment()
        context.channel.closeFuture.whenComplete { [series, closed] _ in
            series.open.decrement()
            closed?()
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        report()
        context.fireChannelReadComplete()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        written += unwrapOutboundIn(data).readableBytes
        context.write(data, promise: promise)
    }

    public func flush(context: ChannelHandlerContext) {
        report()
        context.flush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        report()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        report()
    }

    private func report() {
        guard read > 0 || written > 0 else { return }
        carried?(read, written)
        let (inward, outward) = reads == .inward ? (read, written) : (written, read)
        if inward > 0 { series.bytesIn.increment(by: Int64(inward)) }
        if outward > 0 { series.bytesOut.increment(by: Int64(outward)) }
        read = 0
        written = 0
    }
}
