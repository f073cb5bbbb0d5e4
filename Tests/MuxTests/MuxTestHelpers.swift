import Foundation
import Logging
import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// Records what a stream channel's pipeline sees. Test-only; used on one event loop at a time.
final class StreamRecorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let lock = MuxLockedValue(State())

    struct State {
        var received = ByteBuffer()
        var inputClosed = false
        var inactive = false
        var errors: [Error] = []
        var writabilityChanges: [Bool] = []
    }

    var state: State { self.lock.withLockedValue { $0 } }
    var receivedString: String { String(buffer: self.state.received) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.lock.withLockedValue { _ = $0.received.writeBuffer(&buffer) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.lock.withLockedValue { $0.inputClosed = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.lock.withLockedValue { $0.inactive = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.lock.withLockedValue { $0.errors.append(error) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        self.lock.withLockedValue { $0.writabilityChanges.append(writable) }
    }
}

/// The server side's view of peer-opened streams.
final class InboundStreams: @unchecked Sendable {
    private let lock = MuxLockedValue<[(channel: Channel, metadata: ByteBuffer, recorder: StreamRecorder)]>([])
    var halfClosure = true
    var autoRead = true
    var reject = false
    /// A handler to put in front of the recorder of the n-th stream (from 0), if any.
    var extraHandler: ((Int) -> ChannelHandler)?

    var all: [(channel: Channel, metadata: ByteBuffer, recorder: StreamRecorder)] { self.lock.withLockedValue { $0 } }

    var initializer: MuxSession.InboundStreamInitializer {
        { channel, metadata in
            if self.reject {
                return channel.eventLoop.makeFailedFuture(MuxError(code: .streamRejected, reason: "test rejects"))
            }
            let recorder = StreamRecorder()
            do {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: self.halfClosure)
                try channel.syncOptions!.setOption(ChannelOptions.autoRead, value: self.autoRead)
                if let extra = self.extraHandler?(self.all.count) {
                    try channel.pipeline.syncOperations.addHandler(extra)
                }
                try channel.pipeline.syncOperations.addHandler(recorder)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            self.lock.withLockedValue { $0.append((channel, metadata, recorder)) }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }
}

/// Two sessions on two EmbeddedChannels sharing one EmbeddedEventLoop; `interact()` shuttles bytes.
final class EmbeddedMuxPair {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let server: EmbeddedChannel
    let clientSession: MuxSession
    let serverSession: MuxSession
    let serverStreams = InboundStreams()
    let clientStreams = InboundStreams()
    var clientDatagrams: [(UInt32, ByteBuffer)] = []

    init(configuration: MuxConfiguration = .testDefault, serverConfiguration: MuxConfiguration? = nil) throws {
        self.client = EmbeddedChannel(loop: self.loop)
        self.server = EmbeddedChannel(loop: self.loop)
        try self.client.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        try self.server.connect(to: .init(ipAddress: "127.0.0.1", port: 2)).wait()
        self.clientSession = try self.client.pipeline.syncOperations.addMuxSession(
            role: .initiator, configuration: configuration, logger: .test,
            inboundStreamInitializer: self.clientStreams.initializer
        )
        self.serverSession = try self.server.pipeline.syncOperations.addMuxSession(
            role: .responder, configuration: serverConfiguration ?? configuration, logger: .test,
            inboundStreamInitializer: self.serverStreams.initializer
        )
        try self.interact()
    }

    /// Moves bytes both ways until neither side has anything to send.
    func interact() throws {
        for _ in 0..<10_000 {
            // Run pending tasks first: sessions flush at the end of the loop tick.
            self.loop.run()
            var moved = false
            while let bytes = try self.client.readOutbound(as: ByteBuffer.self) {
                if self.server.isActive { try self.server.writeInbound(bytes) }
                moved = true
            }
            while let bytes = try self.server.readOutbound(as: ByteBuffer.self) {
                if self.client.isActive { try self.client.writeInbound(bytes) }
                moved = true
            }
            self.loop.run()
            if !moved { return }
        }
        XCTFail("interact did not settle")
    }

    /// Collects what the client wrote without delivering it.
    func clientOutbound() throws -> ByteBuffer {
        self.loop.run()
        var all = ByteBuffer()
        while var bytes = try self.client.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&bytes) }
        return all
    }

    func openClientStream(_ metadata: String = "target", halfClosure: Bool = true, autoRead: Bool = true) throws -> (Channel, StreamRecorder) {
        let recorder = StreamRecorder()
        let future = self.clientSession.openStream(metadata: ByteBuffer(string: metadata)) { channel in
            do {
                try channel.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: halfClosure)
                try channel.syncOptions!.setOption(ChannelOptions.autoRead, value: autoRead)
                try channel.pipeline.syncOperations.addHandler(recorder)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        self.loop.run()
        return (try future.wait(), recorder)
    }

    func finish() {
        _ = try? self.client.finish()
        _ = try? self.server.finish()
    }
}

extension MuxConfiguration {
    static var testDefault: MuxConfiguration {
        var c = MuxConfiguration()
        c.keepaliveInterval = nil
        return c
    }
}

extension Logger {
    static var test: Logger {
        var logger = Logger(label: "mux.test")
        logger.logLevel = ProcessInfo.processInfo.environment["MUX_TEST_LOG"] != nil ? .trace : .critical
        return logger
    }
}

/// Encodes frames into one buffer (for feeding a session raw input).
func encode(_ frames: MuxFrame...) -> ByteBuffer {
    var buffer = ByteBuffer()
    for frame in frames { MuxFrameEncoder.write(frame, into: &buffer) }
    return buffer
}

/// Decodes all frames in `buffer` (preface first when `preface` is true).
func decodeAll(_ buffer: ByteBuffer, preface: Bool = true) throws -> [MuxFrame] {
    var decoder = MuxFrameDecoder(maxFrameSize: MuxProtocol.maxMaxFrameSize)
    var buffer = buffer
    var frames: [MuxFrame] = []
    if !preface {
        var fake = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &fake)
        _ = try decoder.decode(buffer: &fake)
    }
    while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
    return frames
}

/// Records reads, read-completes, input end, errors and close, in order; with
/// `readAgainOnComplete` it asks for the next read when a read completes, as a splice does
/// once its partner drains.
final class ReadEvents: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var events: [String] = []
    let readAgainOnComplete: Bool
    init(readAgainOnComplete: Bool = false) { self.readAgainOnComplete = readAgainOnComplete }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.events.append("read \(self.unwrapInboundIn(data).readableBytes)")
        context.fireChannelRead(data)
    }
    func channelReadComplete(context: ChannelHandlerContext) {
        self.events.append("complete")
        context.fireChannelReadComplete()
        if self.readAgainOnComplete { context.read() }
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { self.events.append("fin") }
        context.fireUserInboundEventTriggered(event)
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { self.events.append("error") }
    func channelInactive(context: ChannelHandlerContext) {
        self.events.append("inactive")
        context.fireChannelInactive()
    }
}

extension XCTestCase {
    /// Runs the loop and collects everything `channel` wrote.
    func drain(_ channel: EmbeddedChannel) throws -> ByteBuffer {
        (channel.eventLoop as! EmbeddedEventLoop).run()
        var all = ByteBuffer()
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&bytes) }
        return all
    }
}
