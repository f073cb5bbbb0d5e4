import ACME
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import SwiftASN1
import X509
import TestSupport
import XCTest

@testable import ACME

/// Real issuance against Debian's pebble, one pebble (and challtestsrv) per test on free loopback
/// ports. Each test uses its own names so pebble's authorization reuse cannot skip a challenge.
final class PebbleIssuanceTests: XCTestCase {
    var pebble: Pebble!
    var httpClient: HTTPClient!
    let logger = Logger(label: "acme-test")

    override func setUp() async throws {
        pebble = try Pebble()
        httpClient = ACMEClient.makeHTTPClient(extraTrustPEMFile: pebble.caFile)
    }

    override func tearDown() async throws {
        try await httpClient?.shutdown()
        pebble?.stop()
    }

    private func makeClient(key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) -> ACMEClient {
        ACMEClient(
            directoryURL: pebble.directoryURL,
            accountKey: key,
            httpClient: httpClient,
            logger: logger,
            polling: ACMEPollingPolicy(
                maximumAttempts: 60, maximumDuration: .seconds(60),
                defaultInterval: .milliseconds(200), maximumInterval: .seconds(2)
            )
        )
    }

    /// GET on pebble's management API (HTTPS, our test CA).
    private func management(_ path: String) async throws -> String {
        let response = try await httpClient.execute(HTTPClientRequest(url: pebble.managementURL + path), timeout: .seconds(10))
        XCTAssertEqual(response.status, .ok, path)
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// The leaf carries exactly `names`, the certificate key, and chains to pebble's root.
    private func verify(_ certificate: ACMECertificate, names: [String], key: P256.Signing.PrivateKey) async throws {
        XCTAssertEqual(certificate.names, names)
        XCTAssertFalse(certificate.orderURL.isEmpty)
        XCTAssertGreaterThan(certificate.chain.count, 1, "leaf and at least one intermediate")
        let sans = try XCTUnwrap(certificate.leaf.extensions.subjectAlternativeNames)
        XCTAssertEqual(Array(sans), names.map { GeneralName.dnsName($0) })
        XCTAssertEqual(certificate.leaf.publicKey, Certificate.PublicKey(key.publicKey))
        XCTAssertLessThan(certificate.notBefore, certificate.notAfter)
        let renewal = certificate.renewalTime(now: Date())
        XCTAssertGreaterThan(renewal, certificate.notBefore)
        XCTAssertLessThan(renewal, certificate.notAfter)

        let rootPEM = try await management("/roots/0")
        let root = try Certificate(pemEncoded: rootPEM)
        let intermediatePEM = try await management("/intermediates/0")
        XCTAssertEqual(certificate.chain[1], try Certificate(pemEncoded: intermediatePEM), "chain[1] is pebble's intermediate")
        var verifier = Verifier(rootCertificates: CertificateStore([root])) {
            RFC5280Policy()
        }
        let result = await verifier.validate(
            leaf: certificate.leaf,
            intermediates: CertificateStore(certificate.chain.dropFirst())
        )
        guard case .validCertificate(let chain) = result else {
            return XCTFail("issued chain does not verify to pebble's root: \(result)")
        }
        XCTAssertEqual(chain.last, root)
    }

    func testHTTP01Issuance() async throws {
        let responder = HTTP01Responder()
        try await responder.start(port: pebble.httpPort)
        defer { Task { await responder.stop() } }
        let client = makeClient()
        try await client.account(email: "ops@example.test")
        let key = P256.Signing.PrivateKey()
        let names = ["http.example.test", "www.http.example.test"]
        let certificate = try await client.issue(names: names, certificateKey: key, solver: HTTP01Solver(responder: responder))
        try await verify(certificate, names: names, key: key)
        XCTAssertGreaterThanOrEqual(responder.served.withLockedValue { $0 }, 2, "pebble fetched both tokens")
        XCTAssertTrue(responder.answers.withLockedValue { $0.isEmpty }, "cleanup removed the tokens")

        // Debian's pebble 2.4.0 has no renewalInfo in its directory: the client says so with nil.
        let directory = try await client.directory()
        XCTAssertNil(directory.renewalInfo)
        let window = try await client.renewalInfo(for: certificate)
        XCTAssertNil(window)
    }

    func testTLSALPN01Issuance() async throws {
        let responder = TLSALPNResponder()
        try await responder.start(port: pebble.tlsPort)
        defer { Task { await responder.stop() } }
        let client = makeClient()
        let key = P256.Signing.PrivateKey()
        let certificate = try await client.issue(
            names: ["alpn.example.test"], certificateKey: key, solver: TLSALPNSolver(responder: responder)
        )
        try await verify(certificate, names: ["alpn.example.test"], key: key)
        let negotiated = responder.negotiated.withLockedValue { $0 }
        XCTAssertFalse(negotiated.isEmpty, "pebble completed a handshake")
        XCTAssertTrue(negotiated.allSatisfy { $0 == "acme-tls/1" }, "\(negotiated)")
    }

    func testDNS01WildcardThroughTheHook() async throws {
        let calls = URL(fileURLWithPath: pebble.directory.path).appendingPathComponent("hook-calls").path
        let hookPath = pebble.directory.appendingPathComponent("dns-hook.sh").path
        let script = """
            #!/bin/sh
            # lego exec convention: $1 = present|cleanup, $2 = _acme-challenge.<domain>., $3 = TXT value
            set -e
            case "$1" in
              present) curl -fsS --max-time 10 -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" \(pebble.challengeManagementURL)/set-txt ;;
              cleanup) curl -fsS --max-time 10 -d "{\\"host\\":\\"$2\\"}" \(pebble.challengeManagementURL)/clear-txt ;;
              *) echo "unknown action $1" >&2; exit 2 ;;
            esac
            echo "$1 $2 $3" >> '\(calls)'

            """
        try script.write(toFile: hookPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hookPath)

        let client = makeClient()
        let key = P256.Signing.PrivateKey()
        let certificate = try await client.issue(
            names: ["*.wild.example.test"], certificateKey: key,
            solver: DNSHook(command: hookPath, timeout: .seconds(30), logger: logger)
        )
        try await verify(certificate, names: ["*.wild.example.test"], key: key)
        let lines = try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertTrue(lines.first?.hasPrefix("present _acme-challenge.wild.example.test. ") ?? false, "\(lines)")
        XCTAssertTrue(lines.last?.hasPrefix("cleanup _acme-challenge.wild.example.test. ") ?? false, "\(lines)")
    }

    func testAccountIsIdempotentForTheSameKey() async throws {
        let key = P256.Signing.PrivateKey()
        let first = try await makeClient(key: key).account(email: "a@example.test")
        let again = try await makeClient(key: key).account(email: "a@example.test")
        XCTAssertEqual(first, again)
        XCTAssertTrue(first.hasPrefix("https://127.0.0.1:\(pebble.acmePort)/"), first)
        let other = try await makeClient().account(email: "b@example.test")
        XCTAssertNotEqual(first, other)
    }

    func testServerProblemSurfacesWithItsDetail() async throws {
        let client = makeClient()
        do {
            _ = try await client.issue(
                names: ["bad_name..test"], certificateKey: P256.Signing.PrivateKey(),
                solver: RecordingSolver(chooses: .http01, failPresent: false)
            )
            XCTFail("pebble must refuse an order for bad_name..test")
        } catch let problem as ACMEProblem {
            XCTAssertTrue(problem.type.hasPrefix(ACMEProblem.namespace), problem.type)
            XCTAssertEqual(problem.status, 400)
            let detail = try XCTUnwrap(problem.detail)
            XCTAssertFalse(detail.isEmpty)
            XCTAssertTrue("\(problem)".contains(detail))
        }
    }

    func testBadNonceIsRetriedOnce() async throws {
        let client = makeClient()
        try await client.account(email: nil)
        // The pool hands out its newest nonce first: this one, which pebble never issued.
        await client.addNonce("bogusNonceThatPebbleNeverIssued")
        let again = try await client.account(email: nil)
        let accountURL = await client.accountURL
        XCTAssertEqual(again, accountURL, "the retry with the nonce from the badNonce response succeeded")
    }

    func testCleanupRunsWhenPresentFailsAndNoChoiceIsAClearError() async throws {
        let failing = RecordingSolver(chooses: .http01, failPresent: true)
        do {
            _ = try await makeClient().issue(
                names: ["fail.example.test"], certificateKey: P256.Signing.PrivateKey(), solver: failing
            )
            XCTFail("present threw, issue must throw")
        } catch is RecordingSolver.PresentFailed {}
        XCTAssertEqual(
            failing.calls.withLockedValue { $0 },
            ["choose fail.example.test", "present http-01", "cleanup http-01"]
        )

        let picky = RecordingSolver(chooses: nil, failPresent: false)
        do {
            _ = try await makeClient().issue(
                names: ["none.example.test"], certificateKey: P256.Signing.PrivateKey(), solver: picky
            )
            XCTFail("no challenge chosen, issue must throw")
        } catch let error as ACMEError {
            XCTAssertTrue(error.reason.contains("no usable challenge for none.example.test"), error.reason)
        }
        XCTAssertEqual(picky.calls.withLockedValue { $0 }, ["choose none.example.test"])
    }

    func testAValidationFailureSurfacesThePebbleProblem() async throws {
        // An HTTP responder that knows no token: pebble's validation gets a 404.
        let responder = HTTP01Responder()
        try await responder.start(port: pebble.httpPort)
        defer { Task { await responder.stop() } }
        struct WrongAnswer: ACMEChallengeSolver {
            func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
                .http01
            }
            func present(_ challenge: ACMEChallenge) async throws {}
            func cleanup(_ challenge: ACMEChallenge) async {}
        }
        do {
            _ = try await makeClient().issue(
                names: ["unanswered.example.test"], certificateKey: P256.Signing.PrivateKey(), solver: WrongAnswer()
            )
            XCTFail("an unanswered challenge must fail the issuance")
        } catch let problem as ACMEProblem {
            XCTAssertNotNil(problem.detail)
            XCTAssertTrue(problem.shortType == "unauthorized" || problem.shortType == "connection", "\(problem)")
        }
    }
}
