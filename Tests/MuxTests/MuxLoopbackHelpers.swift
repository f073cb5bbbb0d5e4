import Foundation
import Logging
import NIOCore
import NIOPosix
import XCTest

@testable import Mux

/// A deterministic RNG so a failing randomized run can be replayed from its printed seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-style hash over a byte stream, 8 bytes at a time (debug builds are slow per byte), and
/// independent of how the stream was cut into buffers: a partial word carries over.
struct Checksum: Hashable, Sendable {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    var count = 0
    private var tail: UInt64 = 0
    private var tailCount = 0

    mutating func update(_ buffer: ByteBuffer) {
        var value = self.value
        var tail = self.tail
        var tailCount = self.tailCount
        buffer.withUnsafeReadableBytes { raw in
            var i = 0
            while tailCount != 0, i < raw.count {
                tail |= UInt64(raw[i]) << (8 * UInt64(tailCount))
                tailCount += 1
                i += 1
                if tailCount == 8 {
                    value = (value ^ tail) &* 0x100_0000_01b3
                    tail = 0
                    tailCount = 0
                }
            }
            while i + 8 <= raw.count {
                value = (value ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01b3
                i += 8
            }
            while i < raw.count {
                tail |= UInt64(raw[i]) << (8 * UInt64(tailCount))
                tailCount += 1
                i += 1
            }
        }
        self.value = value
        self.tail = tail
        self.tailCount = tailCount
        self.count += buffer.readableBytes
    }
}

/// Echoes what it reads, holding `read()` while the channel is not writable (glue-style
/// backpressure), and half-closes when the peer half-closes.
final class EchoHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var readPending = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }
    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            self.readPending = true
        }
    }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.readPending {
            self.readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.flush()
            context.close(mode: .output, promise: nil)
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Reads and discards, counting bytes and checksumming; completes `done` at input close.
final class SinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<Checksum>
    private(set) var checksum = Checksum()
    let countOnly: Bool

    init(done: EventLoopPromise<Checksum>, countOnly: Bool = false) {
        self.done = done
        self.countOnly = countOnly
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        if self.countOnly {
            self.checksum.count += buffer.readableBytes
        } else {
            self.checksum.update(buffer)
        }
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.done.succeed(self.checksum)
        }
    }
    func channelInactive(context: ChannelHandlerContext) {
        self.done.fail(ChannelError.eof)
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.done.fail(error)
    }
}

/// A client and a server session over real loopback TCP.
final class LoopbackMuxPair {
    let group: MultiThreadedEventLoopGroup
    let serverChannel: Channel
    let clientChannel: Channel
    let client: MuxSession
    let server: MuxSession

    init(
        configuration: MuxConfiguration = .testDefault,
        threads: Int = 2,
        datagramHandler: MuxSession.DatagramHandler? = nil,
        inbound: @escaping MuxSession.InboundStreamInitializer
    ) throws {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let serverSession = self.group.next().makePromise(of: MuxSession.self)
        self.serverChannel = try ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = try channel.pipeline.syncOperations.addMuxSession(
                        role: .responder, configuration: configuration, logger: .test, inboundStreamInitializer: inbound,
                        datagramHandler: datagramHandler)
                    serverSession.succeed(session)
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        let clientSession = self.group.next().makePromise(of: MuxSession.self)
        // The session must be in the pipeline before the first byte is read: add it in the
        // channel initializer.
        self.clientChannel = try ClientBootstrap(group: self.group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = try channel.pipeline.syncOperations.addMuxSession(
                        role: .initiator, configuration: configuration, logger: .test
                    ) { channel, _ in channel.eventLoop.makeSucceededVoidFuture() }
                    clientSession.succeed(session)
                }
            }
            .connect(to: self.serverChannel.localAddress!).wait()
        self.client = try clientSession.futureResult.wait()
        self.server = try serverSession.futureResult.wait()
    }

    func shutdown() {
        try? self.clientChannel.close().wait()
        try? self.serverChannel.close().wait()
        try? self.group.syncShutdownGracefully()
    }
}

/// Writes `total` bytes from a seeded generator to `channel` in random chunk sizes, respecting
/// writability, then half-closes. Runs on the channel's event loop; completes with the checksum
/// of what was written.
final class RandomWriter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var rng: SplitMix64
    private var remaining: Int
    private let maxChunk: Int
    private var checksum = Checksum()
    let done: EventLoopPromise<Checksum>
    private var context: ChannelHandlerContext?
    private var finished = false
    private var pumping = false
    /// 1 MiB of seeded random bytes; chunks are slices of it at random offsets (no per-byte work).
    private static let pattern: ByteBuffer = {
        var rng = SplitMix64(seed: 0x5EED)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(1 << 20 + 8)
        for _ in 0..<(1 << 17) { buffer.writeInteger(rng.next()) }
        return buffer
    }()

    init(seed: UInt64, total: Int, maxChunk: Int, done: EventLoopPromise<Checksum>) {
        self.rng = SplitMix64(seed: seed)
        self.remaining = total
        self.maxChunk = maxChunk
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        self.pump()
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.pump()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    /// Writes a few chunks, then yields to the loop so streams interleave randomly.
    func pump() {
        guard let context = self.context, !self.finished, !self.pumping else { return }
        self.pumping = true
        defer { self.pumping = false }
        var chunks = Int.random(in: 1...4, using: &self.rng)
        while self.remaining > 0, context.channel.isWritable, chunks > 0 {
            let size = min(self.remaining, Int.random(in: 1...self.maxChunk, using: &self.rng))
            let offset = Int.random(in: 0...(Self.pattern.readableBytes - min(size, Self.pattern.readableBytes)), using: &self.rng)
            var buffer: ByteBuffer
            if size <= Self.pattern.readableBytes {
                buffer = Self.pattern.getSlice(at: offset, length: size)!
            } else {
                buffer = context.channel.allocator.buffer(capacity: size)
                buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: offset), count: size)
            }
            self.checksum.update(buffer)
            self.remaining -= size
            context.write(NIOAny(buffer), promise: nil)
            chunks -= 1
        }
        context.flush()
        if self.remaining == 0 {
            self.finished = true
            let checksum = self.checksum
            context.close(mode: .output).whenComplete { result in
                switch result {
                case .success: self.done.succeed(checksum)
                case .failure(let error): self.done.fail(error)
                }
            }
        } else if context.channel.isWritable {
            context.eventLoop.execute { self.pump() }
        }
        // Not writable: channelWritabilityChanged resumes.
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.done.fail(error)
    }
}

/// Delays every inbound read by a fixed time, preserving order: simulates a long link on loopback.
final class InboundDelayHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let delay: TimeAmount
    private var queue = CircularBuffer<ByteBuffer>()

    init(delay: TimeAmount) { self.delay = delay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.queue.append(self.unwrapInboundIn(data))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: self.delay) {
            let (handler, context) = loopBound.value
            guard let buffer = handler.queue.popFirst() else { return }
            context.fireChannelRead(NIOAny(buffer))
            context.fireChannelReadComplete()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {}
}
