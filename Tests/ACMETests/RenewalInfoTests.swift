import Crypto
import Foundation
import SwiftASN1
import X509
import XCTest

@testable import ACME

/// Debian's pebble 2.4.0 has no `renewalInfo` in its directory (ARI came to pebble later), so ARI is
/// tested here on its pure parts: the certificate ID, the window document, the renewal time. The
/// pebble tests check that `renewalInfo(for:)` returns nil when the directory lacks it.
final class RenewalInfoTests: XCTestCase {
    /// RFC 9773 §4.1's example: AKI keyIdentifier 69:88:5B:…:D4 and serial 0x87654321 (DER content
    /// bytes 00 87 65 43 21, the leading zero because the high bit is set).
    func testCertificateIDMatchesTheRFCExample() throws {
        let certificate = try makeCertificate(
            serial: Certificate.SerialNumber(bytes: [0x87, 0x65, 0x43, 0x21]),
            authorityKeyID: Array(hex: "69885B6B87464041E1B37B847BA0AE2CDE01C8D4"),
            notBefore: Date(), notAfter: Date().addingTimeInterval(86400)
        )
        XCTAssertEqual(try RenewalInfo.certificateID(for: certificate), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    func testCertificateWithoutAKIHasNoID() throws {
        let certificate = try makeCertificate(
            serial: Certificate.SerialNumber(bytes: [1]), authorityKeyID: nil,
            notBefore: Date(), notAfter: Date().addingTimeInterval(86400)
        )
        XCTAssertThrowsError(try RenewalInfo.certificateID(for: certificate))
    }

    func testWindowParsing() throws {
        let body = Array(#"""
            {"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00.5Z"},
             "explanationURL":"https://ca.test/docs/ari"}
            """#.utf8)
        let window = try RenewalInfo.parseWindow(body)
        XCTAssertEqual(window.start, Date(timeIntervalSince1970: 1_735_790_400))
        XCTAssertEqual(window.end, Date(timeIntervalSince1970: 1_735_876_800.5))
        XCTAssertEqual(window.explanationURL, "https://ca.test/docs/ari")

        let inverted = Array(#"{"suggestedWindow":{"start":"2025-01-03T00:00:00Z","end":"2025-01-02T00:00:00Z"}}"#.utf8)
        XCTAssertThrowsError(try RenewalInfo.parseWindow(inverted))
        XCTAssertThrowsError(try RenewalInfo.parseWindow(Array(#"{"suggestedWindow":{"start":"x","end":"y"}}"#.utf8)))
        XCTAssertThrowsError(try RenewalInfo.parseWindow(Array("not json".utf8)))
    }

    func testRenewalTimeIsAThirdBeforeExpiryUnlessAWindowSaysOtherwise() throws {
        let notBefore = Date(timeIntervalSince1970: 1_700_000_000)
        let notAfter = notBefore.addingTimeInterval(90 * 86400)
        let leaf = try makeCertificate(
            serial: Certificate.SerialNumber(), authorityKeyID: [1, 2, 3], notBefore: notBefore, notAfter: notAfter
        )
        let pem = try leaf.serializeAsPEM().pemString
        var certificate = try ACMECertificate(chainPEM: pem, names: ["a.example.test"], orderURL: "https://ca.test/o/1")
        // Certificate times have one-second precision.
        XCTAssertEqual(certificate.notAfter.timeIntervalSince1970, notAfter.timeIntervalSince1970, accuracy: 1)
        XCTAssertEqual(
            certificate.renewalTime(now: notBefore).timeIntervalSince1970,
            notAfter.addingTimeInterval(-30 * 86400).timeIntervalSince1970,
            accuracy: 1
        )

        let window = RenewalWindow(start: notBefore.addingTimeInterval(86400), end: notBefore.addingTimeInterval(2 * 86400))
        certificate.renewalWindow = window
        for _ in 0..<20 {
            let time = certificate.renewalTime(now: notBefore)
            XCTAssertGreaterThanOrEqual(time, window.start)
            XCTAssertLessThan(time, window.end)
        }
        // Inside the window: never before now. After it: now.
        let inside = notBefore.addingTimeInterval(1.5 * 86400)
        XCTAssertGreaterThanOrEqual(window.renewalTime(now: inside), inside)
        let late = notBefore.addingTimeInterval(3 * 86400)
        XCTAssertEqual(window.renewalTime(now: late), late)
    }

    func testChainParsingRejectsJunk() {
        XCTAssertThrowsError(try ACMECertificate(chainPEM: "", names: [], orderURL: ""))
        XCTAssertThrowsError(try ACMECertificate(chainPEM: "hello", names: [], orderURL: ""))
        let key = P256.Signing.PrivateKey()
        XCTAssertThrowsError(try ACMECertificate(chainPEM: key.pemRepresentation, names: [], orderURL: ""))
    }

    private func makeCertificate(
        serial: Certificate.SerialNumber,
        authorityKeyID: [UInt8]?,
        notBefore: Date,
        notAfter: Date
    ) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ari.example.test") }
        var extensions = try Certificate.Extensions {
            SubjectAlternativeNames([.dnsName("a.example.test")])
        }
        if let authorityKeyID {
            try extensions.append(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: authorityKeyID[...]), critical: false))
        }
        return try Certificate(
            version: .v3, serialNumber: serial, publicKey: .init(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key)
        )
    }
}
