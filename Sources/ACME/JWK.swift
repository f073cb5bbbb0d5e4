import Crypto

/// The account key's public half as a JSON Web Key (RFC 7517), the form ACME embeds in `newAccount`
/// requests and hashes into every key authorization.
public struct JWK: Sendable, Hashable, Codable {
    public var kty: String
    public var crv: String
    public var x: String
    public var y: String

    public init(_ publicKey: P256.Signing.PublicKey) {
        // rawRepresentation is the uncompressed point without its 0x04 prefix: x || y, 32 bytes each.
        let raw = Array(publicKey.rawRepresentation)
        self.kty = "EC"
        self.crv = "P-256"
        self.x = Base64URL.encode(raw[0..<32])
        self.y = Base64URL.encode(raw[32..<64])
    }

    /// The RFC 7638 canonical JSON: only the required members, in lexicographic order, no whitespace.
    /// Built by hand because a general JSON encoder guarantees neither order nor spacing.
    public var canonicalJSON: String {
        #"{"crv":"\#(crv)","kty":"\#(kty)","x":"\#(x)","y":"\#(y)"}"#
    }

    /// The RFC 7638 thumbprint: SHA-256 of the canonical JSON.
    public var thumbprint: [UInt8] {
        Array(SHA256.hash(data: Array(canonicalJSON.utf8)))
    }

    /// The thumbprint base64url-encoded, as it appears in key authorizations (RFC 8555 §8.1).
    public var thumbprintBase64URL: String {
        Base64URL.encode(thumbprint)
    }
}
