/// Failures of the client itself (as opposed to problem documents the server sent, see ``ACMEProblem``).
public struct ACMEError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for logs and operators.
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "ACME: \(reason)" }
}
