import Logging
import NIOCore

/// Accepts connections on an address. `tcp` and `tls` listeners differ only in what they put in
/// front of the handler; listeners of other shapes (reverse ones that accept through a chain) fit too.
public protocol StreamListener: Sendable {
    /// Listens until the task is cancelled, calling `accept` for every connection (in its own task),
    /// with a `Handshake` installed before the first byte could be read.
    /// `bound` is called once with the actual address, so `:0` can be reported.
    func run(
        address: HostPort,
        group: EventLoopGroup,
        logger: Logger,
        bound: @escaping @Sendable (SocketAddress) -> Void,
        accept: @escaping @Sendable (Handshake) async -> Void
    ) async throws
}

/// Binds a datagram socket for a `DatagramHandler`.
public protocol DatagramListener: Sendable {
    func bind(address: HostPort, group: EventLoopGroup, logger: Logger) async throws -> Channel
}

/// Either kind of listener, as the registry builds them.
public enum AnyListener: Sendable {
    case stream(any StreamListener)
    case datagram(any DatagramListener)
}
