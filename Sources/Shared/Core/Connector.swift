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
