import NIOCore
import NIOWebSocket

/// Turns a WebSocket connection into a byte stream: binary (and continuation) frames in become
/// `ByteBuffer`s, `ByteBuffer`s out become binary frames, so whatever runs over a TCP connection
/// (TLS, a Mux session) runs over a WebSocket unchanged, through HTTP proxies and CDNs that carry
/// only HTTP(S).
///
/// Nothing is buffered here: a frame's payload is passed on as it is decoded (the frame decoder in
/// front holds at most one frame, `maxFrameSize`), and `read()` passes through, so backpressure
/// from the handlers behind reaches the socket. Outbound buffers are cut into frames of at most
/// `maxOutboundFrame` bytes, so a peer with a small frame limit still takes them.
///
/// Control frames: a ping is answered with a pong carrying its payload; a pong is ignored; a
/// close frame is answered with a close frame and closes the connection (a WebSocket has no
/// half-close: RFC 6455 §5.5.1). Closing this side (`close(mode: .output)` or `.all`) sends a close
/// frame first. Text frames and frames that break the protocol (an unmasked frame from a client,
/// an unknown opcode) are answered with a close frame naming the reason, and the connection closes.
public final class WebSocketByteStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    /// Which end: a client masks every frame it sends; a server requires masked frames.
    public enum Role: Sendable {
        case client
        case server
    }

    /// The largest frame this side sends.
    public static let maxOutboundFrame = 16 * 1024
    /// The largest frame either side accepts (the frame decoder's limit): a TLS record with room.
    public static let maxInboundFrame = 64 * 1024

    private let role: Role
    private var closeSent = false
    private var closeReceived = false

    public init(role: Role) {
        self.role = role
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if role == .server, frame.maskKey == nil {
            return fail(context: context, code: .protocolError, reason: "unmasked frame from a client")
        }
        switch frame.opcode {
        case .binary, .continuation:
            guard !closeReceived else { return }
            let payload = frame.unmaskedData
            if payload.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(payload))
            }
        case .ping:
            guard frame.fin, !closeSent else { return }
            send(context: context, opcode: .pong, data: frame.unmaskedData, promise: nil)
            context.flush()
        case .pong:
            break
        case .connectionClose:
            closeReceived = true
            if !closeSent {
                closeSent = true
                // Echo the peer's status code (the first two bytes of its payload), as RFC 6455 §5.5.1 asks.
                var echo = context.channel.allocator.buffer(capacity: 2)
                var payload = frame.unmaskedData
                if let code = payload.readInteger(as: UInt16.self) { echo.writeInteger(code) }
                send(context: context, opcode: .connectionClose, data: echo, promise: nil)
                context.flush()
            }
            context.close(promise: nil)
        case .text:
            fail(context: context, code: .unacceptableData, reason: "text frame on a byte stream")
        default:
            fail(context: context, code: .protocolError, reason: "unknown opcode")
        }
    }

    /// A frame the decoder in front refused (too large, malformed) ends the WebSocket: the peer
    /// is told why (1009 or 1002), the error goes on, and the connection closes.
    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let wsError = error as? NIOWebSocketError else { return context.fireErrorCaught(error) }
        sendClose(context: context, code: wsError == .invalidFrameLength ? .messageTooLarge : .protocolError)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        var buffer = unwrapOutboundIn(data)
        while buffer.readableBytes > Self.maxOutboundFrame {
            send(context: context, opcode: .binary, data: buffer.readSlice(length: Self.maxOutboundFrame)!, promise: nil)
        }
        send(context: context, opcode: .binary, data: buffer, promise: promise)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            // The peer answers with its close frame, which closes the connection.
            sendClose(context: context, code: .normalClosure)
            promise?.succeed(())
        case .all:
            sendClose(context: context, code: .normalClosure)
            context.close(mode: mode, promise: promise)
        default:
            context.close(mode: mode, promise: promise)
        }
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent, context.channel.isActive else { return }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.write(webSocketErrorCode: code)
        send(context: context, opcode: .connectionClose, data: payload, promise: nil)
        context.flush()
    }

    private func fail(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        sendClose(context: context, code: code)
        context.fireErrorCaught(WebSocketStreamError(reason: reason))
        context.close(promise: nil)
    }

    private func send(context: ChannelHandlerContext, opcode: WebSocketOpcode, data: ByteBuffer, promise: EventLoopPromise<Void>?) {
        let mask: WebSocketMaskingKey? = role == .client ? .random() : nil
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, maskKey: mask, data: data)), promise: promise)
    }
}

/// A WebSocket peer broke the byte stream's protocol (the connection is closed).
public struct WebSocketStreamError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "WebSocket: \(reason)" }
}
