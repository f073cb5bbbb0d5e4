import Logging
import NIOCore

/// What is said to a node to go further: after the exchange, the connection carries bytes to `target`.
///
/// Connectors talk through the `Handshake` of the connection their dialer (or the previous hop)
/// produced, so any connector works over any transport and at any position of a chain. They leave
/// the handshake reader in place: bytes that arrive right after a reply stay buffered until the
/// caller has joined the connection to its partner.
public protocol Connector: Sendable {
    func connect(_ io: Handshake, to target: HostPort, logger: Logger) async throws
}

/// A connector that can also carry datagrams (SOCKS5 UDP ASSOCIATE). The control connection stays
/// open for as long as the association lives; datagrams go straight to the returned relay address.
public protocol DatagramConnector: Connector {
    func associate(_ io: Handshake, logger: Logger) async throws -> HostPort
}
