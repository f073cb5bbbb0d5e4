import Crypto
import Foundation
import X509
import XCTest

@testable import ACME

final class ACMEChallengeTests: XCTestCase {
    let accountKey = JWK(rfc6979Key.publicKey)

    /// Expected values from Python (hashlib + base64.urlsafe_b64encode), see JWSTests.
    func testKeyAuthorizationAndDNSValue() {
        let challenge = ACMEChallenge(
            kind: .dns01,
            identifier: "example.test",
            token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            url: "https://ca.test/chall/1",
            accountKey: accountKey
        )
        XCTAssertEqual(
            challenge.keyAuthorization,
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0"
        )
        XCTAssertEqual(challenge.dnsTXTValue, "jBe9m-TkL_mXXuTnxF15Pxu9Y9Z04DWzxA58xfX1lrU")
        XCTAssertEqual(challenge.dnsName, "_acme-challenge.example.test.")
        XCTAssertEqual(challenge.httpPath, "/.well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA")
    }

    func testDNSNameDropsTheWildcardAndTrailingDot() {
        XCTAssertEqual(ACMEChallenge.dnsName(for: "*.wild.example.test"), "_acme-challenge.wild.example.test.")
        XCTAssertEqual(ACMEChallenge.dnsName(for: "a.example.test."), "_acme-challenge.a.example.test.")
    }

    func testTLSALPNCertificateHasTheCriticalAcmeIdentifierWithTheDigest() throws {
        let challenge = ACMEChallenge(
            kind: .tlsALPN01, identifier: "alpn.example.test", token: "tok_en-1", url: "https://ca.test/c",
            accountKey: accountKey
        )
        let made = try TLSALPNChallengeCertificate.make(for: challenge)
        let certificate = try Certificate(derEncoded: made.certificateDER)

        let ext = try XCTUnwrap(certificate.extensions[oid: [1, 3, 6, 1, 5, 5, 7, 1, 31]])
        XCTAssertTrue(ext.critical)
        // The extension value is the DER OCTET STRING (tag 0x04, length 32) of SHA-256(keyAuthorization).
        let digest = Array(SHA256.hash(data: Array(challenge.keyAuthorization.utf8)))
        XCTAssertEqual(Array(ext.value), [0x04, 0x20] + digest)
        XCTAssertEqual(try TLSALPNChallengeCertificate.acmeIdentifierDigest(in: certificate), digest)

        let sans = try XCTUnwrap(certificate.extensions.subjectAlternativeNames)
        XCTAssertEqual(Array(sans), [.dnsName("alpn.example.test")])
        XCTAssertEqual(certificate.publicKey, Certificate.PublicKey(made.privateKey.publicKey))
        XCTAssertEqual(certificate.issuer, certificate.subject, "self-signed")
        XCTAssertTrue(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        XCTAssertEqual(TLSALPNChallengeCertificate.alpnProtocol, "acme-tls/1")
    }

    func testCSRCarriesTheNamesAndTheCertificateKey() throws {
        let key = P256.Signing.PrivateKey()
        let der = try ACMECSR.der(names: ["a.example.test", "*.wild.example.test"], key: key)
        let csr = try CertificateSigningRequest(derEncoded: der)
        XCTAssertEqual(csr.publicKey, Certificate.PublicKey(key.publicKey))
        XCTAssertTrue(csr.publicKey.isValidSignature(csr.signature, for: csr))
        let request = try XCTUnwrap(csr.attributes.extensionRequest)
        let sans = try XCTUnwrap(request.extensions.subjectAlternativeNames)
        XCTAssertEqual(Array(sans), [.dnsName("a.example.test"), .dnsName("*.wild.example.test")])
    }

    func testNoncePoolIsBoundedAndRefusesJunk() {
        var pool = ACMENonces(capacity: 3)
        XCTAssertNil(pool.take())
        for i in 0..<5 { XCTAssertTrue(pool.add("nonce\(i)")) }
        XCTAssertEqual(pool.count, 3)
        XCTAssertFalse(pool.add("has space"))
        XCTAssertFalse(pool.add("pad=="))
        XCTAssertFalse(pool.add(String(repeating: "a", count: ACMENonces.maximumNonceLength + 1)))
        XCTAssertEqual(pool.take(), "nonce4", "newest first")
        XCTAssertEqual(pool.take(), "nonce3")
        XCTAssertEqual(pool.take(), "nonce2")
        XCTAssertNil(pool.take(), "oldest two were dropped")
    }

    func testPollingIsBoundedAndCapsRetryAfter() {
        let policy = ACMEPollingPolicy(
            maximumAttempts: 3, maximumDuration: .seconds(20), defaultInterval: .seconds(1), maximumInterval: .seconds(5)
        )
        XCTAssertEqual(policy.delay(afterAttempt: 1, elapsed: .zero, retryAfter: nil), .seconds(1))
        XCTAssertEqual(policy.delay(afterAttempt: 2, elapsed: .zero, retryAfter: nil), .seconds(2))
        XCTAssertEqual(policy.delay(afterAttempt: 1, elapsed: .zero, retryAfter: .seconds(3600)), .seconds(5))
        XCTAssertNil(policy.delay(afterAttempt: 3, elapsed: .zero, retryAfter: nil), "attempts spent")
        XCTAssertNil(policy.delay(afterAttempt: 1, elapsed: .seconds(19), retryAfter: .seconds(3)), "time spent")

        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        XCTAssertEqual(ACMEPollingPolicy.parseRetryAfter("7", now: now), .seconds(7))
        XCTAssertEqual(ACMEPollingPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now: now), .seconds(10))
        XCTAssertEqual(ACMEPollingPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now: now), .zero)
        XCTAssertNil(ACMEPollingPolicy.parseRetryAfter("soon", now: now))
        XCTAssertNil(ACMEPollingPolicy.parseRetryAfter("-4", now: now))
        XCTAssertNil(ACMEPollingPolicy.parseRetryAfter(nil, now: now))
    }

    func testProblemDocumentDecodesAndDescribesItself() throws {
        let json = #"""
            {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Error creating new order :: bad name",
             "status":400,"subproblems":[{"type":"urn:ietf:params:acme:error:malformed","detail":"label empty",
             "identifier":{"type":"dns","value":"bad_name..test"}}]}
            """#
        let problem = try JSONDecoder().decode(ACMEProblem.self, from: Data(json.utf8))
        XCTAssertEqual(problem.shortType, "rejectedIdentifier")
        XCTAssertEqual(problem.status, 400)
        XCTAssertEqual(problem.subproblems?.first?.identifier?.value, "bad_name..test")
        XCTAssertFalse(problem.isBadNonce)
        XCTAssertTrue(problem.description.contains("bad name"))
        XCTAssertTrue(problem.description.contains("bad_name..test: label empty"))
        XCTAssertTrue(ACMEProblem(type: "urn:ietf:params:acme:error:badNonce").isBadNonce)
    }
}
