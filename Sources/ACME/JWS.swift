import Crypto
import Foundation

/// A flattened JSON Web Signature (RFC 7515 §7.2.2) as ACME requires it (RFC 8555 §6.2): ES256 over
/// `base64url(protected) "." base64url(payload)`, the signature as raw `r || s` (64 bytes, RFC 7518
/// §3.4), not DER.
public struct JWS: Sendable, Hashable, Codable {
    public var protected: String
    public var payload: String
    public var signature: String

    /// Who signs: the embedded key for `newAccount` (and revocation by certificate key), the account
    /// URL (`kid`) for everything else.
    public enum Signer: Sendable, Hashable {
        case jwk(JWK)
        case kid(String)
    }

    /// The protected header. Field order does not matter to the server; keys are sorted for stable
    /// output in tests.
    public struct Header: Sendable, Hashable, Codable {
        public var alg: String
        public var nonce: String
        public var url: String
        public var jwk: JWK?
        public var kid: String?
    }

    /// Signs `payload` for `url`. A nil payload means POST-as-GET (RFC 8555 §6.3): the payload field is
    /// the empty string, which is different from an empty JSON object `{}`.
    public static func sign(
        payload: [UInt8]?,
        url: String,
        nonce: String,
        signer: Signer,
        key: P256.Signing.PrivateKey
    ) throws -> JWS {
        var header = Header(alg: "ES256", nonce: nonce, url: url)
        switch signer {
        case .jwk(let jwk): header.jwk = jwk
        case .kid(let kid): header.kid = kid
        }
        let protected = Base64URL.encode(try Self.encoder.encode(header))
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        let signingInput = Array("\(protected).\(encodedPayload)".utf8)
        let signature = try key.signature(for: signingInput)
        return JWS(
            protected: protected,
            payload: encodedPayload,
            signature: Base64URL.encode(signature.rawRepresentation)
        )
    }

    /// The JSON body to POST with `Content-Type: application/jose+json`.
    public func body() throws -> [UInt8] {
        Array(try Self.encoder.encode(self))
    }

    /// Checks the signature with `publicKey`; used by tests and handy for debugging a server's complaint.
    public func isValidSignature(publicKey: P256.Signing.PublicKey) -> Bool {
        guard let raw = Base64URL.decode(signature), raw.count == 64,
            let sig = try? P256.Signing.ECDSASignature(rawRepresentation: raw)
        else { return false }
        return publicKey.isValidSignature(sig, for: Array("\(protected).\(payload)".utf8))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension JWS.Header {
    init(alg: String, nonce: String, url: String) {
        self.init(alg: alg, nonce: nonce, url: url, jwk: nil, kid: nil)
    }
}
