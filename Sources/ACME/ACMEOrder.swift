/// An order object (RFC 8555 §7.1.3) as the server returns it from `newOrder`, the order URL and
/// `finalize`.
public struct ACMEOrder: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case pending, ready, processing, valid, invalid
    }

    public var status: Status
    public var expires: String?
    public var identifiers: [ACMEIdentifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var error: ACMEProblem?

    /// The payload of `newOrder` (§7.4).
    struct Request: Encodable {
        var identifiers: [ACMEIdentifier]
    }

    /// The payload of the finalize request: the CSR's DER, base64url.
    struct FinalizeRequest: Encodable {
        var csr: String
    }
}

/// An authorization object (RFC 8555 §7.1.4): one identifier and the challenges that can prove control
/// of it. For a wildcard order the identifier is the base domain and `wildcard` is true.
public struct ACMEAuthorization: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case pending, valid, invalid, deactivated, expired, revoked
    }

    public var identifier: ACMEIdentifier
    public var status: Status
    public var expires: String?
    public var challenges: [Challenge]
    public var wildcard: Bool?

    /// A challenge object as the server describes it (§7.1.5, §8).
    public struct Challenge: Sendable, Hashable, Codable {
        public enum Status: String, Sendable, Hashable, Codable {
            case pending, processing, valid, invalid
        }

        public var type: String
        public var url: String
        public var status: Status
        public var token: String?
        public var validated: String?
        public var error: ACMEProblem?
    }
}

/// The account object (RFC 8555 §7.1.2); only the fields the client reads.
struct ACMEAccount: Codable {
    var status: String?
    var contact: [String]?

    /// The payload of `newAccount` (§7.3).
    struct Request: Encodable {
        var termsOfServiceAgreed: Bool
        var contact: [String]?
    }
}
