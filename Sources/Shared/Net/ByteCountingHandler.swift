import Metrics
import NIOCore

/// Counts the bytes of one connection on the wire into a service's `service_bytes_total`
/// counters: `in` as read from the client, `out` as written to it. Put first in the pipeline by
/// the `tcp`/`tls` listener when the connection is set up (before TLS, before any read), summed
/// on the loop and handed to the counters at each read burst's end, each flush and
/// the close, not per buffer.
final class ByteCountingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// A service's pair of counters, made once per service.
    struct Counters: Sendable {
        let received: Counter
        let sent: Counter

        init(service: String) {
            received = Counter(label: "service_bytes_total", dimensions: [("service", service), ("direction", "in")])
            sent = Counter(label: "service_bytes_total", dimensions: [("service", service), ("direction", "out")])
        }

        /// Whether a metrics backend records anything (without one, no handler is added).
        static var recording: Bool { !(MetricsSystem.factory is NOOPMetricsHandler) }
    }

    private let counters: Counters
    private var read = 0
    private var written = 0

    init(_ counters: Counters) {
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        report()
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        written += unwrapOutboundIn(data).readableBytes
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        report()
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        report()
        context.fireChannelInactive()
    }

    private func report() {
        if read > 0 {
            counters.received.increment(by: Int64(read))
            read = 0
        }
        if written > 0 {
            counters.sent.increment(by: Int64(written))
            written = 0
        }
    }
}
