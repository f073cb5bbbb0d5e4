import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Shared
import TunnelProtocol

/// Reads the relay's one-line JSON reply on the control stream.
final class ReplyLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var buffer = ByteBuffer()
    private let promise: EventLoopPromise<TunnelMessages.Reply>

    init(promise: EventLoopPromise<TunnelMessages.Reply>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { promise.fail(EngineError(.protocolViolation, "relay reply too long")) }
            return
        }
        let line = buffer.getSlice(at: buffer.readerIndex, length: newline - buffer.readerIndex)!
        do {
            promise.succeed(try TunnelMessages.decode(TunnelMessages.Reply.self, from: line))
        } catch {
            promise.fail(EngineError(.protocolViolation, "malformed relay reply"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EngineError(.closed, "relay closed the control stream"))
        context.fireChannelInactive()
    }
}
