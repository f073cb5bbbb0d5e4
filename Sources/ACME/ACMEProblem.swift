/// An RFC 7807 problem document as ACME servers send them (RFC 8555 §6.7), surfaced as a Swift error.
///
/// The server's `detail` is kept verbatim because it is usually the only thing that tells an operator
/// why an order failed (a rate limit, a rejected identifier, a failed validation with its reason).
public struct ACMEProblem: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The problem type URI, e.g. `urn:ietf:params:acme:error:badNonce`.
    public var type: String
    /// Human-readable explanation from the server.
    public var detail: String?
    /// The HTTP status the server sent (also carried in the document when the server includes it).
    public var status: Int?
    /// Per-identifier problems of a compound error (RFC 8555 §6.7.1).
    public var subproblems: [Subproblem]?

    public struct Subproblem: Sendable, Hashable, Codable {
        public var type: String
        public var detail: String?
        public var identifier: ACMEIdentifier?
    }

    public init(type: String, detail: String? = nil, status: Int? = nil, subproblems: [Subproblem]? = nil) {
        self.type = type
        self.detail = detail
        self.status = status
        self.subproblems = subproblems
    }

    /// The ACME error namespace prefix; `type` values under it have short names such as `badNonce`.
    public static let namespace = "urn:ietf:params:acme:error:"

    public static let badNonceType = namespace + "badNonce"

    /// The short name (`badNonce`, `malformed`, ...) for types in the ACME namespace, else the full type.
    public var shortType: String {
        type.hasPrefix(Self.namespace) ? String(type.dropFirst(Self.namespace.count)) : type
    }

    public var isBadNonce: Bool { type == Self.badNonceType }

    public var description: String {
        var text = "ACME problem \(shortType)"
        if let status { text += " (HTTP \(status))" }
        if let detail { text += ": \(detail)" }
        if let subproblems, !subproblems.isEmpty {
            let parts = subproblems.map { sub in
                "\(sub.identifier?.value ?? "?"): \(sub.detail ?? sub.type)"
            }
            text += " [" + parts.joined(separator: "; ") + "]"
        }
        return text
    }
}
