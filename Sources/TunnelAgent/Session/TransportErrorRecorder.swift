import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Shared

/// Remembers the first TLS error the transport reported (an alert from the relay), so that a
/// failed registration can name its real cause. Lock-protected: read from the connecting task.
final class TransportErrorRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    private let box = NIOLockedValueBox<(any Error)?>(nil)

    var error: (any Error)? { box.withLockedValue { $0 } }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if TunnelClient.isTLSError(error) {
            box.withLockedValue { if $0 == nil { $0 = error } }
        }
        context.fireErrorCaught(error)
    }
}
