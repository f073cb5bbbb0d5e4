import Logging
import NIOCore
import NIOTLS

/// Says in the log why a client's TLS handshake on a listener failed (no client certificate, one
/// from another CA, an old protocol version, not TLS at all), once per connection, then leaves the
/// pipeline. Without it a refused agent is only a silent close on the relay's side.
final class TLSHandshakeLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let logger: Logger
    private let requiresClientCertificate: Bool
    private var done = false

    init(logger: Logger, requiresClientCertificate: Bool) {
        self.logger = logger
        self.requiresClientCertificate = requiresClientCertificate
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, !done {
            done = true
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !done {
            done = true
            var metadata: Logger.Metadata = ["client": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"]
            if requiresClientCertificate {
                metadata["requires"] = "a client certificate signed by the listener's caFile"
            }
            logger.info("TLS handshake failed", metadata: metadata)
        }
        context.fireErrorCaught(error)
    }
}
