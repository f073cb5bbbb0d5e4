import Crypto
import Foundation
import XCTest

@testable import ACME

/// The RFC 6979 A.2.5 P-256 key, so the expected JWK and thumbprint can be computed independently.
let rfc6979Key = try! P256.Signing.PrivateKey(
    rawRepresentation: Array(hex: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
)

final class JWSTests: XCTestCase {
    /// Expected values computed once with Python's `cryptography` (a different implementation of the
    /// curve, base64url and SHA-256):
    ///   ec.derive_private_key(d, SECP256R1()) → x, y → json.dumps(sort_keys, separators=(",",":"))
    ///   → sha256 → urlsafe_b64encode without padding.
    func testJWKAndThumbprintMatchAnIndependentComputation() {
        let jwk = JWK(rfc6979Key.publicKey)
        XCTAssertEqual(jwk.x, "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y")
        XCTAssertEqual(jwk.y, "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk")
        XCTAssertEqual(
            jwk.canonicalJSON,
            #"{"crv":"P-256","kty":"EC","x":"YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y","y":"eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk"}"#
        )
        XCTAssertEqual(jwk.thumbprintBase64URL, "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0")
    }

    func testSignedRequestWithEmbeddedKeyHasTheRFC8555Shape() throws {
        let payload = Array(#"{"termsOfServiceAgreed":true}"#.utf8)
        let jws = try JWS.sign(
            payload: payload,
            url: "https://ca.test/acme/new-account",
            nonce: "abc_-123",
            signer: .jwk(JWK(rfc6979Key.publicKey)),
            key: rfc6979Key
        )
        let header = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(XCTUnwrap(Base64URL.decode(jws.protected)))) as? [String: Any]
        )
        XCTAssertEqual(header["alg"] as? String, "ES256")
        XCTAssertEqual(header["nonce"] as? String, "abc_-123")
        XCTAssertEqual(header["url"] as? String, "https://ca.test/acme/new-account")
        XCTAssertNil(header["kid"], "jwk and kid are mutually exclusive (RFC 8555 §6.2)")
        let jwk = try XCTUnwrap(header["jwk"] as? [String: String])
        XCTAssertEqual(jwk, ["kty": "EC", "crv": "P-256", "x": JWK(rfc6979Key.publicKey).x, "y": JWK(rfc6979Key.publicKey).y])
        XCTAssertEqual(Base64URL.decode(jws.payload), payload)
        XCTAssertFalse(jws.protected.contains("="), "base64url without padding")
        XCTAssertFalse(jws.signature.contains("="))

        // The signature is raw r||s (64 bytes), verifiable with swift-crypto over protected.payload.
        let raw = try XCTUnwrap(Base64URL.decode(jws.signature))
        XCTAssertEqual(raw.count, 64)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: raw)
        XCTAssertTrue(
            rfc6979Key.publicKey.isValidSignature(signature, for: Array("\(jws.protected).\(jws.payload)".utf8))
        )
        XCTAssertTrue(jws.isValidSignature(publicKey: rfc6979Key.publicKey))
        XCTAssertFalse(jws.isValidSignature(publicKey: P256.Signing.PrivateKey().publicKey))

        // The body is the flattened JSON serialization with exactly three members.
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(jws.body())) as? [String: String])
        XCTAssertEqual(Set(body.keys), ["protected", "payload", "signature"])
    }

    func testPostAsGetHasAnEmptyPayloadAndUsesKid() throws {
        let jws = try JWS.sign(
            payload: nil,
            url: "https://ca.test/acme/order/1",
            nonce: "n1",
            signer: .kid("https://ca.test/acme/acct/7"),
            key: rfc6979Key
        )
        XCTAssertEqual(jws.payload, "", "POST-as-GET sends the empty string, not {} (RFC 8555 §6.3)")
        let header = try JSONDecoder().decode(JWS.Header.self, from: Data(XCTUnwrap(Base64URL.decode(jws.protected))))
        XCTAssertEqual(header.kid, "https://ca.test/acme/acct/7")
        XCTAssertNil(header.jwk)
        XCTAssertTrue(jws.isValidSignature(publicKey: rfc6979Key.publicKey))
    }

    func testBase64URLRoundTripsAndRejectsOtherAlphabets() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let encoded = Base64URL.encode(bytes)
            XCTAssertEqual(Base64URL.decode(encoded), bytes)
            XCTAssertEqual(encoded, Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: ""))
        }
        XCTAssertNil(Base64URL.decode("ab+c"))
        XCTAssertNil(Base64URL.decode("abcde"))
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes = [UInt8]()
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(String([high, low]), radix: 16)!)
        }
        self = bytes
    }
}
