import Foundation
import NIOSSL
import Shared
import XCTest

@testable import TunnelServer

/// Certificates by SNI (exact before wildcard), their names and dates read back, file pairs
/// loaded and reloaded when they change, and rule options checked with their paths.
final class CertificateStoreTests: XCTestCase {
    func makeCertificate(_ names: [String]) throws -> ServingCertificate {
        let self_ = try SelfSignedCertificate(commonName: names[0], dnsNames: names)
        return try ServingCertificate(chainPEM: self_.certificatePEM, keyPEM: self_.privateKeyPEM)
    }

    func testExactBeforeWildcard() throws {
        let store = CertificateStore()
        let wildcard = try makeCertificate(["*.example.test"])
        let exact = try makeCertificate(["app.example.test"])
        store.install(wildcard, for: wildcard.names)
        store.install(exact, for: exact.names)
        XCTAssertEqual(store.certificate(forServerName: "app.example.test")?.fingerprint, exact.fingerprint)
        XCTAssertEqual(store.certificate(forServerName: "Other.Example.Test.")?.fingerprint, wildcard.fingerprint)
        XCTAssertNil(store.certificate(forServerName: "a.b.other.test"))
        XCTAssertTrue(wildcard.covers("x.example.test"))
        XCTAssertFalse(wildcard.covers("a.x.example.test"), "a wildcard covers one label")
        XCTAssertFalse(wildcard.covers("example.test"))
        XCTAssertEqual(exact.names, ["app.example.test"])
        XCTAssertGreaterThan(exact.notAfter, Date())
        store.remove("*.example.test")
        XCTAssertNil(store.certificate(forServerName: "other.example.test"))
    }

    func testChallengesAreByExactName() throws {
        let store = CertificateStore()
        let context = try makeCertificate(["app.test"]).context
        store.setChallenge(context, for: "App.Test")
        XCTAssertNotNil(store.challenge(for: "app.test"))
        XCTAssertNil(store.challenge(for: "x.app.test"))
        store.setChallenge(nil, for: "app.test")
        XCTAssertNil(store.challenge(for: "app.test"))
    }

    func testFilesLoadAndReloadWhenChanged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let first = try SelfSignedCertificate(commonName: "a", dnsNames: ["a.test", "b.test"])
        try first.certificatePEM.write(toFile: cert, atomically: true, encoding: .utf8)
        try first.privateKeyPEM.write(toFile: key, atomically: true, encoding: .utf8)
        let store = CertificateStore()
        let files = CertificateFiles(store: store)
        try files.load(pattern: nil, certFile: cert, keyFile: key)
        let before = try XCTUnwrap(store.certificate(forServerName: "b.test")).fingerprint
        XCTAssertEqual(files.reloadChanged(), 0, "nothing changed")
        // A half-written pair keeps the old certificate.
        try "garbage".write(toFile: cert, atomically: true, encoding: .utf8)
        XCTAssertEqual(files.reloadChanged(), 0)
        XCTAssertEqual(store.certificate(forServerName: "b.test")?.fingerprint, before)
        let second = try SelfSignedCertificate(commonName: "a", dnsNames: ["a.test", "b.test"])
        try second.privateKeyPEM.write(toFile: key, atomically: true, encoding: .utf8)
        try second.certificatePEM.write(toFile: cert, atomically: true, encoding: .utf8)
        XCTAssertEqual(files.reloadChanged(), 1)
        XCTAssertNotEqual(store.certificate(forServerName: "b.test")?.fingerprint, before)
        XCTAssertThrowsError(try files.load(pattern: "x.test", certFile: dir.appendingPathComponent("missing.pem").path, keyFile: key)) { error in
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testRuleOptionsAreCheckedWithTheirPath() throws {
        XCTAssertEqual(try IngressRuleConfig(hostname: "a.test", endpoint: "t", tls: "passthrough").options(path: "r").tls, .passthrough)
        XCTAssertThrowsError(try IngressRuleConfig(hostname: "a.test", endpoint: "t", tls: "maybe").options(path: "ingresses[0].rules[1]")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "ingresses[0].rules[1].tls")
        }
        XCTAssertThrowsError(try IngressRuleConfig(hostname: "a.test", endpoint: "t", certFile: "c.pem").options(path: "r")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "r.keyFile")
        }
        XCTAssertThrowsError(try IngressRuleConfig(hostname: "a.test", endpoint: "t", tls: "passthrough", certFile: "c", keyFile: "k").options(path: "r"))
        XCTAssertThrowsError(try IngressRuleConfig(hostname: "a.test", endpoint: "t", hstsMaxAge: -1).options(path: "r"))
        let config = try ConfigLoader.parse("ingresses:\n- name: main\n  rules: [{hostname: app.test, endpoint: t, tls: terminate, redirectHTTPS: true, hstsMaxAge: 600}]\n", sections: [IngressesSection.self])
        XCTAssertEqual(try config.ingresses?[0].rules[0].options(path: "r"), RuleOptions(tls: .terminate, redirectHTTPS: true, hstsMaxAge: 600))
        let bad = try ConfigLoader.parse("ingresses:\n- name: main\n  rules: [{hostname: app.test, endpoint: t, tls: sometimes}]\n", sections: [IngressesSection.self])
        XCTAssertThrowsError(try bad.sections[IngressesSection.self]?.validate()) { error in
            XCTAssertTrue("\(error)".hasPrefix("ingresses[0].rules[0].tls: expected terminate or passthrough"), "\(error)")
        }
    }
}
