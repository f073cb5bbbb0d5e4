import Foundation
import Logging
import XCTest

@testable import ACME

/// The DNS hook runs real shell scripts: arguments in lego's exec order, stderr in the error, the
/// timeout kills.
final class DNSHookTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dnshook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func script(_ name: String, _ body: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    private let challenge = ACMEChallenge(
        kind: .dns01, identifier: "wild.example.test", wildcard: true, token: "tok", url: "https://ca.test/c",
        accountKey: JWK(rfc6979Key.publicKey)
    )

    func testPresentAndCleanupPassLegoExecArguments() async throws {
        let log = directory.appendingPathComponent("calls").path
        let hook = DNSHook(command: try script("hook.sh", "echo \"$1 $2 $3\" >> '\(log)'\n"), logger: Logger(label: "test"))
        XCTAssertEqual(hook.choose(from: [.http01, .dns01], for: "x", wildcard: false), .dns01)
        XCTAssertNil(hook.choose(from: [.http01, .tlsALPN01], for: "x", wildcard: false))
        try await hook.present(challenge)
        await hook.cleanup(challenge)
        let calls = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertEqual(
            calls,
            "present _acme-challenge.wild.example.test. \(challenge.dnsTXTValue)\n"
                + "cleanup _acme-challenge.wild.example.test. \(challenge.dnsTXTValue)\n"
        )
    }

    func testNonZeroExitCarriesTheStderrTailBounded() async throws {
        let body = "i=0; while [ $i -lt 500 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done\n"
            + "echo 'zone example.test: permission denied' >&2\nexit 3\n"
        let hook = DNSHook(command: try script("fail.sh", body), stderrLimit: 256, logger: Logger(label: "test"))
        do {
            try await hook.present(challenge)
            XCTFail("a failing hook must fail present")
        } catch let failure as DNSHook.Failure {
            XCTAssertTrue(failure.reason.contains("status 3"), failure.reason)
            XCTAssertTrue(failure.stderr.hasSuffix("zone example.test: permission denied"), failure.stderr)
            XCTAssertLessThanOrEqual(failure.stderr.utf8.count, 256)
        }
    }

    func testAHangingHookIsKilledAfterTheTimeout() async throws {
        let hook = DNSHook(command: try script("hang.sh", "exec sleep 60\n"), timeout: .milliseconds(500), logger: Logger(label: "test"))
        let start = ContinuousClock.now
        do {
            try await hook.present(challenge)
            XCTFail("a hanging hook must fail present")
        } catch let failure as DNSHook.Failure {
            XCTAssertTrue(failure.reason.contains("killed"), failure.reason)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(30), "killed, not waited for")
    }

    func testAMissingCommandIsAnError() async {
        let hook = DNSHook(command: directory.appendingPathComponent("nope").path, logger: Logger(label: "test"))
        do {
            try await hook.present(challenge)
            XCTFail("a missing command must fail present")
        } catch {
            XCTAssertTrue("\(error)".contains("nope"), "\(error)")
        }
    }
}
