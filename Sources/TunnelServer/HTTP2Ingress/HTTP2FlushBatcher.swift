import NIOCore

/// One TLS write for many h2 streams' answers. A burst from the agent's Mux session carries the
/// answers of many streams; if each stream flushed on its own, every one would become its own TLS
/// record and `write` call (NIOHTTP2 coalesces child flushes only while it is itself reading from
/// the visitor, not for writes that come from elsewhere). So streams ask for a flush here
/// (`flushSoon`), and once per event-loop turn the batcher flushes every stream that asked while
/// holding back the flushes they send down, then passes a single one to TLS.
///
/// Sits between TLS and `NIOHTTP2Handler` in the visitor connection's pipeline; used only on that
/// connection's loop (its streams share it). Bounded: a stream is queued once per loop turn
/// however often it asks, and writes wait at most one loop turn for their flush.
final class HTTP2FlushBatcher: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny

    private var context: ChannelHandlerContext?
    /// Streams that asked for a flush since the last batch.
    private var waiting: [Channel] = []
    /// True while the batch flushes its streams: their flushes only mark `flushHeld`.
    private var batching = false
    private var flushHeld = false

    init() {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        waiting.removeAll()
    }

    func flush(context: ChannelHandlerContext) {
        if batching {
            flushHeld = true
        } else {
            context.flush()
        }
    }

    /// Flushes `stream` (a child channel of this connection) before this loop turn ends, together
    /// with every other stream that asks before then.
    func flushSoon(_ stream: Channel) {
        guard let context else {
            stream.flush()
            return
        }
        // A stream often asks more than once in a turn (its answer's parts, then read-complete).
        guard !waiting.contains(where: { $0 === stream }) else { return }
        waiting.append(stream)
        guard waiting.count == 1 else { return }
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { me.value.flushWaiting() }
    }

    private func flushWaiting() {
        let streams = waiting
        waiting.removeAll(keepingCapacity: true)
        batching = true
        for stream in streams { stream.flush() }
        batching = false
        if flushHeld {
            flushHeld = false
            context?.flush()
        }
    }
}
