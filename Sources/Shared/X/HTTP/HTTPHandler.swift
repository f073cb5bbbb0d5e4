import Logging
import NIOCore
import NIOHTTP1

/// HTTP/1.1 forward proxy: `CONNECT host:port` tunnels and absolute-form requests
/// (`GET http://host/path`), keep-alive, and Basic `Proxy-Authorization` answered with 407.
///
/// Request heads are parsed by NIOHTTP1 with a 64 KiB header limit; bodies stream both ways with
/// backpressure, never buffered whole (see `HTTPProxyServerStateMachine`, which `HTTPProxyServerHandler` drives).
public struct HTTPHandler: StreamHandler {
    public let auth: Authenticator
    /// Cap on the total size of a request's header fields.
    public var maxHeaderBytes = 64 * 1024

    public init(options: ComponentOptions = ComponentOptions(), auth: Authenticator) {
        self.auth = auth
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let channel = io.channel
        let auth = self.auth
        let maxHeaderBytes = self.maxHeaderBytes
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                var limits = NIOHTTPDecoderLimitConfiguration()
                limits.maxHeaderListSize = maxHeaderBytes
                limits.maxHeaderFieldSize = maxHeaderBytes
                let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits))
                let encoder = HTTPResponseEncoder()
                let proxy = HTTPProxyServerHandler(auth: auth, context: context, decoder: decoder, encoder: encoder)
                try channel.pipeline.syncOperations.addHandlers([decoder, encoder, proxy])
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return io.finishOnLoop()
        }.get()
    }
}

extension Handshake {
    /// `finish()` for code already on the event loop.
    func finishOnLoop() -> EventLoopFuture<Void> {
        channel.pipeline.syncOperations.removeHandler(readerOnLoop)
    }
}
