import Foundation
import TestSupport
import XCTest

/// The relay gets its own certificates from a real ACME server: Debian's pebble, with
/// pebble-challtestsrv answering every name with 127.0.0.1. pebble validates HTTP-01 on the
/// relay's public entrypoint and TLS-ALPN-01 on its HTTPS port (its `httpPort`/`tlsPort` are the
/// relay's ports), DNS-01 through the relay's hook script. curl trusts only pebble's root.
final class ACMEEndToEndTests: EndToEndTestCase {
    var pebble: Pebble?

    override func tearDown() {
        pebble?.stop()
        pebble = nil
        super.tearDown()
    }

    struct ACMERelay {
        var relay: Relay
        var httpsPort: Int
        var root: String
    }

    /// pebble on the relay's ports, then the relay with ACME on, then an agent for `hostnames`.
    func startACMERelay(validity: Int? = nil, extra: [String] = [], stateDir: String? = nil, reuse existing: Pebble? = nil) throws -> ACMERelay {
        let publicPort = try existing?.httpPort ?? freePort()
        let httpsPort = try existing?.tlsPort ?? freePort()
        let pebble = try existing ?? Pebble(httpPort: publicPort, tlsPort: httpsPort, validitySeconds: validity)
        self.pebble = pebble
        let relay = try startRelay([
            "--https-addr", "127.0.0.1:\(httpsPort)", "--acme-email", "ops@example.test", "--acme-directory", pebble.directoryURL,
            "--acme-ca-file", pebble.caFile,
        ] + extra, stateDir: stateDir, publicPort: publicPort)
        return ACMERelay(relay: relay, httpsPort: httpsPort, root: try pebble.rootFile())
    }

    func startOrigin(_ name: String) throws -> Int {
        let origin = try h.python("http_origin.py", [name])
        return Int(try origin.wait(for: "PORT (\\d+)"))!
    }

    func httpsGet(_ r: ACMERelay, _ name: String, path: String = "/info", extra: [String] = []) throws -> (status: Int32, output: String) {
        try h.curl(["--cacert", r.root, "--resolve", "\(name):\(r.httpsPort):127.0.0.1"] + extra + ["https://\(name):\(r.httpsPort)\(path)"])
    }

    func fingerprint(_ r: ACMERelay, _ name: String) throws -> String {
        let script = "echo | openssl s_client -connect 127.0.0.1:\(r.httpsPort) -servername \(name) 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        return try h.run("/bin/bash", ["-c", script]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// HTTP-01 for an agent's hostname, nobody asking; then a restart serves the same certificate
    /// without a new order.
    func testHTTP01ForAnAgentsHostnameAndNoNewOrderAfterARestart() throws {
        let state = h.tempFile("state").path
        let r = try startACMERelay(stateDir: state)
        let agent = try h.agent(agentArgs(r.relay) + ["--expose", "127.0.0.1:\(try startOrigin("acme-http"))", "--hostname", "app.example.test"])
        _ = try agent.wait(for: "connected to relay")
        _ = try r.relay.process.wait(for: "hostname=app.example.test .*certificate issued", timeout: 60)
        let page = try httpsGet(r, "app.example.test")
        XCTAssertEqual(page.status, 0, page.output)
        XCTAssertTrue(page.output.contains("acme-http") && page.output.contains("\"xfp\": \"https\""), page.output)
        // The ACME certificate serves h2 (ALPN) as well as HTTP/1.1.
        for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
            let v = try httpsGet(r, "app.example.test", extra: [flag, "-w", "__V__%{http_version}"])
            XCTAssertTrue(v.output.contains("acme-http") && v.output.hasSuffix("__V__\(version)"), v.output)
        }
        let before = try fingerprint(r, "app.example.test")
        XCTAssertTrue(before.contains("Fingerprint"), before)
        let orders = try pebble!.logCount("POST /order-plz")

        r.relay.process.process.terminate()
        r.relay.process.process.waitUntilExit()
        let again = try startACMERelay(stateDir: state, reuse: pebble)
        let agent2 = try h.agent(agentArgs(again.relay) + ["--expose", "127.0.0.1:\(try startOrigin("acme-http"))", "--hostname", "app.example.test"])
        _ = try agent2.wait(for: "connected to relay")
        _ = try again.relay.process.wait(for: "hostname=app.example.test .*certificate loaded from the state directory", timeout: 30)
        XCTAssertEqual(try fingerprint(again, "app.example.test"), before)
        XCTAssertEqual(try pebble!.logCount("POST /order-plz"), orders, "no new order after the restart")
        XCTAssertFalse(again.relay.process.output.contains("ordering a certificate"), again.relay.process.output)
    }

    /// TLS-ALPN-01 on the HTTPS port, and a wildcard through the DNS hook (lego's exec convention).
    func testTLSALPN01AndAWildcardByDNS01() throws {
        let hook = h.tempFile("hook.sh")
        let publicPort = try freePort()
        let httpsPort = try freePort()
        let pebble = try Pebble(httpPort: publicPort, tlsPort: httpsPort)
        self.pebble = pebble
        try """
            #!/bin/bash
            set -e
            echo "$@" >> \(hook.path).calls
            case "$1" in
              present) curl -fsS -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" \(pebble.challengeManagementURL)/set-txt ;;
              cleanup) curl -fsS -d "{\\"host\\":\\"$2\\"}" \(pebble.challengeManagementURL)/clear-txt ;;
            esac
            """.write(to: hook, atomically: true, encoding: .utf8)
        _ = try h.run("/bin/chmod", ["+x", hook.path])
        let r = try startACMERelay(extra: ["--acme-challenge", "tls-alpn-01", "--acme-dns-hook", hook.path], reuse: pebble)
        let agent = try h.agent(agentArgs(r.relay) + [
            "--expose", "127.0.0.1:\(try startOrigin("acme-alpn"))", "--hostname", "alpn.example.test", "--hostname", "*.wild.example.test",
        ])
        _ = try agent.wait(for: "connected to relay")
        _ = try r.relay.process.wait(for: "hostname=alpn.example.test .*certificate issued", timeout: 60)
        _ = try r.relay.process.wait(for: "hostname=\\*.wild.example.test .*certificate issued", timeout: 60)
        XCTAssertTrue(r.relay.process.output.contains("answering an ACME TLS-ALPN-01 validation"), r.relay.process.output)
        for name in ["alpn.example.test", "x.wild.example.test"] {
            let page = try httpsGet(r, name)
            XCTAssertEqual(page.status, 0, "\(name): \(page.output)")
            XCTAssertTrue(page.output.contains("acme-alpn"), page.output)
        }
        let calls = try String(contentsOfFile: hook.path + ".calls", encoding: .utf8)
        XCTAssertTrue(calls.contains("present _acme-challenge.wild.example.test. "), calls)
        XCTAssertTrue(calls.contains("cleanup _acme-challenge.wild.example.test. "), calls)
    }

    /// A short lifetime makes the relay renew while a slow download on the old certificate is
    /// under way: the download completes byte-exact, and new handshakes get the new certificate.
    func testRenewalSwapsTheCertificateWithoutDroppingADownload() throws {
        let r = try startACMERelay(validity: 12)
        let agent = try h.agent(agentArgs(r.relay) + ["--expose", "127.0.0.1:\(try startOrigin("acme-renew"))", "--hostname", "renew.example.test"])
        _ = try agent.wait(for: "connected to relay")
        _ = try r.relay.process.wait(for: "hostname=renew.example.test .*certificate issued", timeout: 60)
        let first = try fingerprint(r, "renew.example.test")
        // 48 MiB at 4 MiB/s: about 12 s on the first certificate's connection.
        let download = try h.start("/bin/bash", ["-c",
            "curl -sS -m 60 --limit-rate 4M --cacert \(r.root) --resolve renew.example.test:\(r.httpsPort):127.0.0.1 https://renew.example.test:\(r.httpsPort)/blob/50331648 | sha256sum"])
        var now = first
        for _ in 0..<60 where now == first {
            usleep(500_000)
            now = try fingerprint(r, "renew.example.test")
        }
        XCTAssertNotEqual(now, first, "renewed within 30 s")
        XCTAssertTrue(download.process.isRunning, "the download was still on the old certificate when it was replaced")
        let deadline = Date().addingTimeInterval(60)
        while download.process.isRunning && Date() < deadline { usleep(100_000) }
        let expected = try h.run("/bin/bash", ["-c", "python3 -c 'import random,hashlib,sys; sys.stdout.write(hashlib.sha256(random.Random(50331648).randbytes(50331648)).hexdigest())'"]).output
        XCTAssertEqual(download.output.split(separator: " ").first.map(String.init), expected)
    }

    /// A hostname the agent's token does not allow is refused, and no order is ever placed for it.
    func testAHostnameNoTokenAllowsGetsNoOrder() throws {
        let tokens = h.tempFile("tokens.yaml", contents: """
            tokens:
            - token: t-allowed
              tunnels: ["*"]
              hostnames: [ok.example.test]
            """)
        let r = try startACMERelay(extra: ["--tokens", tokens.path])
        let refused = try h.agent(["--relay", "127.0.0.1:\(r.relay.agentPort)", "--token", "t-allowed", "--pin", r.relay.pin,
                                   "--expose", "127.0.0.1:9", "--hostname", "forbidden.example.test"])
        _ = try refused.wait(for: "refused")
        let allowed = try h.agent(["--relay", "127.0.0.1:\(r.relay.agentPort)", "--token", "t-allowed", "--pin", r.relay.pin,
                                   "--expose", "127.0.0.1:\(try startOrigin("acme-ok"))", "--hostname", "ok.example.test"])
        _ = try allowed.wait(for: "connected to relay")
        _ = try r.relay.process.wait(for: "hostname=ok.example.test .*certificate issued", timeout: 60)
        // Visitors asking for any name by SNI never cause an order either.
        _ = try h.curl(["-k", "--resolve", "random.example.test:\(r.httpsPort):127.0.0.1", "https://random.example.test:\(r.httpsPort)/"])
        usleep(1_500_000)
        XCTAssertFalse(r.relay.process.output.contains("forbidden.example.test\""), r.relay.process.output)
        XCTAssertFalse(r.relay.process.output.contains("hostname=forbidden"), r.relay.process.output)
        XCTAssertFalse(r.relay.process.output.contains("hostname=random"), r.relay.process.output)
        XCTAssertEqual(try pebble!.logCount("forbidden.example.test"), 0)
        XCTAssertEqual(try pebble!.logCount("random.example.test"), 0)
    }
}
