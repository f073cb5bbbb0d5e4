import Foundation
import XCTest

/// TLS terminated at the relay: certificates by SNI from files (`--tls-cert`), the TLS-only
/// HTTPS port, passthrough for names without a certificate, agents attaching on the HTTPS port by
/// ALPN, and a certificate replaced on disk served without a restart. curl and openssl are the
/// clients; the test CA is made by openssl.
final class HTTPSEndToEndTests: EndToEndTestCase {
    /// The SHA-256 fingerprint of the certificate `name` is served with on `port`.
    func servedFingerprint(_ name: String, port: Int) throws -> String {
        let script = "echo | openssl s_client -connect 127.0.0.1:\(port) -servername \(name) 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        return try h.run("/bin/bash", ["-c", script]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTerminatedHTTPSPassthroughAndAgentsOnTheHTTPSPort() throws {
        let ca = try makeCA(["app.example.test", "*.wild.example.test"])
        let httpsPort = try freePort()
        let relay = try startRelay(["--https-addr", "127.0.0.1:\(httpsPort)", "--tls-cert", ca.cert, "--tls-key", ca.key, "--hsts-max-age", "600"])
        XCTAssertEqual(try relay.process.port(ofService: "https"), httpsPort)
        let origin = try h.python("http_origin.py", ["terminated"])
        let originPort = Int(try origin.wait(for: "PORT (\\d+)"))!
        // This agent attaches on the HTTPS port (TLS with the agents' ALPN), not the agent port.
        let agent = try h.agent(["--relay", "127.0.0.1:\(httpsPort)", "--token", relay.token, "--pin", relay.pin,
                                 "--expose", "127.0.0.1:\(originPort)", "--hostname", "app.example.test", "--hostname", "*.wild.example.test"])
        _ = try agent.wait(for: "connected to relay")

        // Terminated at the relay with the file certificate; the origin is told it was HTTPS.
        for (name, port) in [("app.example.test", httpsPort), ("x.wild.example.test", httpsPort), ("app.example.test", relay.publicPort)] {
            let r = try h.curl(["--cacert", ca.ca, "--resolve", "\(name):\(port):127.0.0.1", "https://\(name):\(port)/info"])
            XCTAssertEqual(r.status, 0, "\(name):\(port) \(r.output)")
            XCTAssertTrue(r.output.contains("\"xfp\": \"https\""), r.output)
            XCTAssertTrue(r.output.contains("terminated"), r.output)
        }
        // 32 MiB down over HTTPS, byte-exact.
        let blob = try h.curl(["--cacert", ca.ca, "--resolve", "app.example.test:\(httpsPort):127.0.0.1", "-D", "-", "-o", "/dev/null",
                               "-w", "__SHA__%{size_download}", "https://app.example.test:\(httpsPort)/blob/33554432"])
        XCTAssertTrue(blob.output.contains("__SHA__33554432"), blob.output)
        // (curl negotiates h2 by default, where field names are lowercase.)
        XCTAssertTrue(blob.output.lowercased().contains("strict-transport-security: max-age=600\r\n"), blob.output)
        let sha = try h.run("/bin/bash", ["-c", "curl -sS -m 30 --cacert \(ca.ca) --resolve app.example.test:\(httpsPort):127.0.0.1 https://app.example.test:\(httpsPort)/blob/33554432 | sha256sum"])
        let expected = blob.output.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-sha256:") }?.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
        XCTAssertNotNil(expected, blob.output)
        XCTAssertEqual(sha.output.split(separator: " ").first.map(String.init), expected)

        // TLS 1.1 is refused; plain HTTP on the HTTPS port gets a 400.
        let old = try h.run("/bin/bash", ["-c", "echo | openssl s_client -connect 127.0.0.1:\(httpsPort) -servername app.example.test -tls1_1 2>&1; true"])
        XCTAssertFalse(old.output.contains("BEGIN CERTIFICATE"), old.output)
        // TLS 1.2 without forward secrecy or with CBC: refused; ECDHE with AES-GCM: accepted.
        for weak in ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA"] {
            let r = try h.run("/bin/bash", ["-c", "echo | openssl s_client -connect 127.0.0.1:\(httpsPort) -servername app.example.test -tls1_2 -cipher \(weak) 2>&1; true"])
            XCTAssertFalse(r.output.contains("BEGIN CERTIFICATE"), "\(weak): \(r.output)")
        }
        let strong = try h.run("/bin/bash", ["-c", "echo | openssl s_client -connect 127.0.0.1:\(httpsPort) -servername app.example.test -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256 2>&1; true"])
        XCTAssertTrue(strong.output.contains("BEGIN CERTIFICATE"), strong.output)
        let plain = try h.curl(["-w", "__STATUS__%{http_code}", "-H", "Host: app.example.test", "http://127.0.0.1:\(httpsPort)/"])
        XCTAssertTrue(plain.output.hasSuffix("__STATUS__400"), plain.output)
        // A name with no certificate and no tunnel: refused with an alert.
        let unknown = try h.curl(["-k", "--resolve", "nobody.test:\(httpsPort):127.0.0.1", "https://nobody.test:\(httpsPort)/"])
        XCTAssertNotEqual(unknown.status, 0, unknown.output)
    }

    /// A name without a certificate is passed through to the local TLS server (its own test CA),
    /// on the HTTPS port as on the public one.
    func testNamesWithoutACertificatePassThrough() throws {
        let relayCA = try makeCA(["app.example.test"])
        let localCA = try makeCA(["secure.example.test"])
        let tls = try h.python("tls_server.py", [localCA.cert, localCA.key])
        let tlsPort = Int(try tls.wait(for: "PORT (\\d+)"))!
        let httpsPort = try freePort()
        let relay = try startRelay(["--https-addr", "127.0.0.1:\(httpsPort)", "--tls-cert", relayCA.cert, "--tls-key", relayCA.key])
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(tlsPort)", "--hostname", "secure.example.test"])
        _ = try agent.wait(for: "connected to relay")
        let r = try h.curl(["--cacert", localCA.ca, "--resolve", "secure.example.test:\(httpsPort):127.0.0.1", "https://secure.example.test:\(httpsPort)/"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output, "tls origin secure.example.test:\(httpsPort)\n")
    }

    /// The certificate files are replaced while the relay runs: new handshakes get the new one
    /// (bounded wait), and the relay never restarted.
    func testReplacedCertificateFilesAreServedWithoutARestart() throws {
        let first = try makeCA(["app.example.test"])
        let live = h.tempFile("live")
        try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
        let cert = live.appendingPathComponent("cert.pem").path
        let key = live.appendingPathComponent("key.pem").path
        try FileManager.default.copyItem(atPath: first.cert, toPath: cert)
        try FileManager.default.copyItem(atPath: first.key, toPath: key)
        let httpsPort = try freePort()
        let relay = try startRelay(["--https-addr", "127.0.0.1:\(httpsPort)", "--tls-cert", cert, "--tls-key", key])
        let before = try servedFingerprint("app.example.test", port: httpsPort)
        XCTAssertTrue(before.contains("Fingerprint"), before)

        let second = try makeCA(["app.example.test"])
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.copyItem(atPath: second.key, toPath: key)
        try FileManager.default.removeItem(atPath: cert)
        try FileManager.default.copyItem(atPath: second.cert, toPath: cert)
        let expected = try h.run("/bin/bash", ["-c", "openssl x509 -in \(second.cert) -noout -fingerprint -sha256"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        var now = before
        for _ in 0..<40 where now != expected {
            usleep(250_000)
            now = try servedFingerprint("app.example.test", port: httpsPort)
        }
        XCTAssertEqual(now, expected)
        XCTAssertTrue(relay.process.process.isRunning)
        _ = try relay.process.wait(for: "certificate reloaded")
    }
}
