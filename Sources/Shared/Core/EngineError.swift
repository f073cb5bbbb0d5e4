/// An error of the engine at run time: a failed dial, a refused handshake, a limit hit.
///
/// A struct with a reason rather than a growing enum, so adding a failure never breaks callers;
/// `kind` lets protocol handlers map it to their own reply codes.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, coarsely enough that each protocol can map it to its own reply code
    /// (a SOCKS5 reply, an HTTP status).
    public enum Kind: Sendable, Equatable {
        case protocolViolation
        case authenticationFailed
        case unsupported
        case connectFailed
        case connectionRefused
        case hostUnreachable
        case timeout
        case limitExceeded
        case closed
        case notAllowed
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}
