import Foundation
import NIOCore

/// Writes `total` bytes as fast as writability allows, reusing one 64 KiB buffer (no copies), then
/// half-closes (or closes when half-closure is unsupported).
final class BulkWriter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var remaining: Int
    private let chunk: ByteBuffer
    private var context: ChannelHandlerContext?
    private var pumping = false
    private var done = false

    init(total: Int, chunkSize: Int = 64 * 1024) {
        self.remaining = total
        self.chunk = ByteBuffer(repeating: 0x5A, count: chunkSize)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.pump() }
    }
    func channelActive(context: ChannelHandlerContext) {
        self.pump()
        context.fireChannelActive()
    }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.pump()
        context.fireChannelWritabilityChanged()
    }

    func pump() {
        guard let context = self.context, !self.pumping, !self.done, context.channel.isActive else { return }
        self.pumping = true
        defer { self.pumping = false }
        // A flush may make the channel writable again synchronously (writability events fire inside
        // flush), which re-entrancy protection would swallow: re-check after each flush.
        repeat {
            // Flush every 4 chunks: TLS handlers count only flushed (encrypted) bytes in
            // writability, so an unflushed writer would queue everything.
            var unflushed = 0
            while self.remaining > 0, context.channel.isWritable, unflushed < 4 {
                let size = min(self.remaining, self.chunk.readableBytes)
                self.remaining -= size
                unflushed += 1
                context.write(NIOAny(size == self.chunk.readableBytes ? self.chunk : self.chunk.getSlice(at: 0, length: size)!), promise: nil)
            }
            context.flush()
        } while self.remaining > 0 && context.channel.isWritable
        if self.remaining == 0 {
            self.done = true
        }
    }
}

/// Counts bytes read and calls `onBytes` with the running total per read burst.
final class CountingSink: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let counter: Counter
    private var pending = 0

    init(counter: Counter) { self.counter = counter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.pending += self.unwrapInboundIn(data).readableBytes
    }
    func channelReadComplete(context: ChannelHandlerContext) {
        if self.pending > 0 {
            self.counter.add(self.pending)
            self.pending = 0
        }
        context.fireChannelReadComplete()
    }
}

/// A thread-safe byte/event counter that completes a promise at a target.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private let target: Int
    private let promise: EventLoopPromise<Void>

    init(target: Int, promise: EventLoopPromise<Void>) {
        self.target = target
        self.promise = promise
    }

    func add(_ n: Int) {
        self.lock.lock()
        let before = self.value
        self.value += n
        let reached = before < self.target && self.value >= self.target
        self.lock.unlock()
        if reached { self.promise.succeed(()) }
    }
}
