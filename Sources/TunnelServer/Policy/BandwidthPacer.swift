import NIOCore

/// Holds a channel to its tunnel's `BandwidthBudget` by pausing its reads: every byte read is
/// drawn from the budget, and when the budget is in debt the next read request (the outbound
/// `read()`) is held until the debt is paid, then let through by a task on the channel's loop.
///
/// It never holds data, only the request for more, so nothing is buffered beyond what the channel
/// already bounds: the socket's receive buffer fills and TCP slows the sender, or a Mux stream's
/// window stays closed and the agent's side waits. Works on any channel that reads on request: a
/// TCP socket, a UDP socket (`AddressedEnvelope<ByteBuffer>` counted by payload), a Mux stream
/// channel; with `autoRead` on (NIO asks for the next read after each read completes) and off
/// (whoever asks is held the same way).
///
/// Put one on each side of a tunnel's connection (the visitor's socket for what visitors send, the
/// stream channel for what the service sends back), all with the tunnel's budget: then every
/// connection and both directions share one rate.
public final class BandwidthPacer: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = Any
    public typealias InboundOut = Any
    public typealias OutboundIn = Any
    public typealias OutboundOut = Any

    public let budget: BandwidthBudget

    /// When the budget's debt, as known from this channel's reads, is paid.
    private var resumeAt: NIODeadline?
    /// Whether a read request is held.
    private var readHeld = false
    private var timer: Scheduled<Void>?

    public init(budget: BandwidthBudget) {
        self.budget = budget
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes: Int
        switch unwrapInboundIn(data) {
        case let io as IOData: bytes = io.readableBytes
        case let envelope as AddressedEnvelope<ByteBuffer>: bytes = envelope.data.readableBytes
        default: bytes = 0
        }
        if bytes > 0 {
            let now = context.eventLoop.now
            let pause = budget.spend(bytes, now: now)
            if pause > .zero {
                let until = now + pause
                resumeAt = max(resumeAt ?? until, until)
            }
        }
        context.fireChannelRead(data)
    }

    public func read(context: ChannelHandlerContext) {
        if readHeld { return }  // one held request stands for any number
        if let resumeAt, resumeAt > context.eventLoop.now {
            readHeld = true
            schedule(context: context, at: resumeAt)
        } else {
            resumeAt = nil
            context.read()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        let wasHeld = readHeld
        cancel()
        // Without the pacer nothing limits the channel: the held request goes on, else an autoRead
        // channel would never read again.
        if wasHeld, context.channel.isActive { context.read() }
    }

    private func schedule(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // Reads that were already under way may have added debt since the timer was set.
            if let resumeAt, resumeAt > context.eventLoop.now {
                schedule(context: context, at: resumeAt)
                return
            }
            resumeAt = nil
            readHeld = false
            context.read()
        }
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
        readHeld = false
    }
}

@available(*, unavailable)
extension BandwidthPacer: Sendable {}
