import NIOCore

/// A peer-opened stream delivered to async code: the stream as an `NIOAsyncChannel` plus the
/// metadata its OPEN carried.
public struct MuxInboundStream: Sendable {
    public let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    public let metadata: ByteBuffer
}

extension MuxSession {
    /// Opens a stream wrapped as an `NIOAsyncChannel` (backpressure through its high/low
    /// watermarks; `output.finish()` half-closes). For tools and tests; the data path of the
    /// product joins stream channels to sockets with handlers instead.
    public func openAsyncStream(
        metadata: ByteBuffer,
        configuration: NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration = .init(isOutboundHalfClosureEnabled: true)
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let box = MuxLockedValue<NIOAsyncChannel<ByteBuffer, ByteBuffer>?>(nil)
        _ = try await self.openStream(metadata: metadata) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: configuration)
                box.withLockedValue { $0 = wrapped }
            }
        }.get()
        return box.withLockedValue { $0 }!
    }

    /// An inbound-stream initializer plus the async sequence of the streams it accepts, to pass to
    /// `configure(...)`/`addMuxSession(...)` when peer-opened streams are handled with async code.
    /// The sequence ends when the returned initializer is released (the session closed).
    public static func makeAsyncInboundStreams(
        configuration: NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration = .init(isOutboundHalfClosureEnabled: true),
        bufferLimit: Int = 256
    ) -> (initializer: InboundStreamInitializer, streams: AsyncStream<MuxInboundStream>) {
        let (stream, continuation) = AsyncStream<MuxInboundStream>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let finisher = ContinuationFinisher(continuation)
        let initializer: InboundStreamInitializer = { channel, metadata in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: configuration)
                switch finisher.continuation.yield(MuxInboundStream(channel: wrapped, metadata: metadata)) {
                case .enqueued: return
                case .dropped, .terminated: throw MuxError(code: .refusedStream, reason: "async inbound stream queue full or finished")
                @unknown default: return
                }
            }
        }
        return (initializer, stream)
    }
}

/// Finishes the async sequence when the initializer that holds it goes away.
private final class ContinuationFinisher: Sendable {
    let continuation: AsyncStream<MuxInboundStream>.Continuation
    init(_ continuation: AsyncStream<MuxInboundStream>.Continuation) { self.continuation = continuation }
    deinit { self.continuation.finish() }
}
