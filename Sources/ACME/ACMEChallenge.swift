import Crypto

/// One challenge the client has to satisfy, with everything a solver needs to answer it: the key
/// authorization for `http-01` and `tls-alpn-01`, the TXT value and record name for `dns-01`.
public struct ACMEChallenge: Sendable, Hashable {
    /// The challenge types this client knows (RFC 8555 §8.3, §8.4; RFC 8737).
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case http01 = "http-01"
        case tlsALPN01 = "tls-alpn-01"
        case dns01 = "dns-01"
    }

    public var kind: Kind
    /// The identifier being validated, without a wildcard's `*.` (the authorization's identifier).
    public var identifier: String
    /// True when the authorization is for a wildcard name (only `dns-01` can validate those).
    public var wildcard: Bool
    public var token: String
    /// The challenge URL the client POSTs `{}` to once the response is in place.
    public var url: String
    /// `token "." base64url(JWK thumbprint)` (RFC 8555 §8.1).
    public var keyAuthorization: String

    public init(kind: Kind, identifier: String, wildcard: Bool = false, token: String, url: String, accountKey: JWK) {
        self.kind = kind
        self.identifier = identifier
        self.wildcard = wildcard
        self.token = token
        self.url = url
        self.keyAuthorization = token + "." + accountKey.thumbprintBase64URL
    }

    /// The `dns-01` TXT record value: base64url(SHA-256(keyAuthorization)) (RFC 8555 §8.4).
    public var dnsTXTValue: String {
        Base64URL.encode(SHA256.hash(data: Array(keyAuthorization.utf8)))
    }

    /// The `dns-01` record name, fully qualified with a trailing dot: `_acme-challenge.<domain>.`.
    public var dnsName: String {
        Self.dnsName(for: identifier)
    }

    /// The `http-01` path the server fetches on port 80 (RFC 8555 §8.3).
    public var httpPath: String {
        "/.well-known/acme-challenge/" + token
    }

    /// SHA-256 of the key authorization, the value of the `acmeIdentifier` extension in `tls-alpn-01`.
    public var keyAuthorizationDigest: [UInt8] {
        Array(SHA256.hash(data: Array(keyAuthorization.utf8)))
    }

    /// `_acme-challenge.<domain>.` for a name, with a wildcard's `*.` and any trailing dot removed first.
    public static func dnsName(for name: String) -> String {
        var domain = Substring(name)
        if domain.hasPrefix("*.") { domain = domain.dropFirst(2) }
        while domain.hasSuffix(".") { domain = domain.dropLast() }
        return "_acme-challenge.\(domain)."
    }
}
