import NIOConcurrencyHelpers

/// The HTTP-01 answers of ACME orders in flight: token → key authorization. The ACME manager
/// puts one in before it asks the CA to validate and takes it out after; the HTTP entrypoint
/// answers `GET /.well-known/acme-challenge/<token>` from here (`ReservedRequests`).
public final class ACMEHTTPTokens: Sendable {
    /// The path prefix RFC 8555 §8.3 fixes.
    public static let pathPrefix = "/.well-known/acme-challenge/"

    private let tokens = NIOLockedValueBox<[String: String]>([:])

    public init() {}

    public func set(_ keyAuthorization: String?, for token: String) {
        tokens.withLockedValue { $0[token] = keyAuthorization }
    }

    public func keyAuthorization(for token: String) -> String? {
        tokens.withLockedValue { $0[token] }
    }

    public var isEmpty: Bool { tokens.withLockedValue { $0.isEmpty } }
}
