import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Shared

/// The relay answered the agent's hello with a refusal (wrong token, claim outside its rights,
/// a port it cannot open).
public struct RegistrationRefused: Error, CustomStringConvertible {
    public var reason: String

    /// The relay cannot take claims for now (its cluster store is unreachable): worth trying
    /// again later, unlike a refused token or claim.
    public var isTemporary: Bool { reason.hasPrefix("unavailable:") }

    public var description: String {
        reason == "unauthorized"
            ? "relay refused registration: unauthorized (check --token and what the token may claim)"
            : "relay refused registration: \(reason)"
    }
}
