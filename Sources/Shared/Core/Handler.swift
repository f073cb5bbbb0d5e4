import Logging
import NIOCore

/// Speaks a service's protocol on each accepted connection (http, socks5, tcp forward, ...).
///
/// A handler is given the connection with a `Handshake` already installed; it parses what it needs,
/// reaches the target through `context.router`, and splices the two. It returns once the connection
/// is joined or refused; the bytes then flow without it.
public protocol StreamHandler: Sendable {
    func handle(_ connection: Handshake, context: HandlerContext) async throws
}

/// Serves a whole datagram socket (udp port forward): one handler for all peers of the socket.
public protocol DatagramHandler: Sendable {
    func start(on channel: Channel, context: HandlerContext) async throws
}

/// Everything a handler shares with its service.
public struct HandlerContext: Sendable {
    public var serviceName: String
    public var router: Router
    public var forwarder: Forwarder?
    public var logger: Logger

    public init(serviceName: String, router: Router, forwarder: Forwarder?, logger: Logger) {
        self.serviceName = serviceName
        self.router = router
        self.forwarder = forwarder
        self.logger = logger
    }
}

/// Either kind of handler, as the registry builds them.
public enum AnyHandler: Sendable {
    case stream(any StreamHandler)
    case datagram(any DatagramHandler)
}
