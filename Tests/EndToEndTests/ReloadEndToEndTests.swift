import Foundation
import XCTest

/// Hot reload end to end: a relay from a `-C` file with an agent and an origin; the file, the
/// tokens file and certificates change and the relay is told (`POST /api/reload`, SIGHUP). What
/// changed applies; what did not keeps its connections and agent sessions; a broken file is
/// refused with its path and the running configuration stays.
final class ReloadEndToEndTests: EndToEndTestCase {
    struct Setup {
        var relay: Harness.Running
        var file: URL
        var agentPort: Int
        var publicPort: Int
        var api: Int
        var origin: Int
    }

    func config(agentPort: Int, publicPort: Int, extraRules: String = "", extraServices: String = "") -> String {
        """
        services:
        - name: agents
          addr: 127.0.0.1:\(agentPort)
          handler:
            type: tunnel
            metadata:
              entrypoint: 127.0.0.1:\(publicPort)
              ingress: main
          listener:
            type: tls
        \(extraServices)
        ingresses:
        - name: main
          rules:
          - hostname: a.reload.test
            endpoint: web
        \(extraRules)
        """
    }

    func start(tokens: URL? = nil) throws -> Setup {
        let agentPort = try freePort()
        let publicPort = try freePort()
        let file = h.tempFile("relay.yaml", contents: config(agentPort: agentPort, publicPort: publicPort))
        let relay = try h.server(["-C", file.path, "--state-dir", h.tempFile("state").path, "-api", "127.0.0.1:0"] + (tokens.map { ["--tokens", $0.path] } ?? []))
        let api = Int(try relay.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        _ = try relay.port(ofService: "agents-entrypoint")
        let origin = Int(try h.python("http_origin.py", ["reload", "300"]).wait(for: "PORT (\\d+)"))!
        return Setup(relay: relay, file: file, agentPort: agentPort, publicPort: publicPort, api: api, origin: origin)
    }

    func agent(_ s: Setup, token: String? = nil) throws -> Harness.Running {
        try h.agent(["--relay", "127.0.0.1:\(s.agentPort)", "--tunnel-id", "web", "--expose", "127.0.0.1:\(s.origin)"] + (token.map { ["--token", $0] } ?? []))
    }

    func reload(_ s: Setup) throws -> (code: Int, json: [String: Any]) {
        let r = try h.api(s.api, "POST", "/reload")
        return (r.code, r.json as? [String: Any] ?? [:])
    }

    func code(_ s: Setup, _ host: String) throws -> String {
        try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: \(host)", "http://127.0.0.1:\(s.publicPort)/api/x"]).output
    }

    /// The registered sessions' IDs once there are `count` (bounded wait: an agent says
    /// "connected" after its first session, the second registers just after).
    func sessions(_ s: Setup, awaiting count: Int) throws -> [String] {
        var ids: [String] = []
        for _ in 0..<100 {
            ids = try sessions(s, registeredOnly: true)
            if ids.count == count { break }
            usleep(100_000)
        }
        return ids
    }

    func sessions(_ s: Setup, registeredOnly: Bool = false) throws -> [String] {
        let r = try h.curl(["-s", "http://127.0.0.1:\(s.api)/api/agents"])
        let agents = (try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])?["agents"] as? [[String: Any]] ?? []
        return agents.filter { !registeredOnly || $0["token"] is String }.compactMap { $0["id"] as? String }.sorted()
    }

    /// A 64 MiB download runs through a reload that adds a rule and a service: it completes byte
    /// for byte, the agent keeps its sessions, the new rule routes and the new service listens.
    /// Then a broken file is refused with its path (by the API and by SIGHUP) and nothing changes.
    func testReloadAppliesChangesAndKeepsTransfersAndSessions() throws {
        let s = try start()
        _ = try agent(s).wait(for: "connected to relay")
        XCTAssertEqual(try code(s, "a.reload.test"), "200")
        XCTAssertEqual(try code(s, "b.reload.test"), "404")
        let before = try sessions(s, awaiting: 2)
        XCTAssertEqual(before.count, 2, "the agent's two sessions")

        let out = h.tempFile("blob")
        let headers = h.tempFile("headers")
        let download = try h.start("/usr/bin/env", [
            "curl", "-sS", "-m", "120", "--limit-rate", "16M", "-H", "Host: a.reload.test", "-D", headers.path, "-o", out.path,
            "http://127.0.0.1:\(s.publicPort)/blob/67108864",
        ])
        usleep(1_000_000)
        XCTAssertTrue(download.process.isRunning, "the download is still under way at the reload")
        let proxyPort = try freePort()
        try config(
            agentPort: s.agentPort, publicPort: s.publicPort,
            extraRules: "  - hostname: b.reload.test\n    endpoint: web",
            extraServices: "- name: proxy\n  addr: 127.0.0.1:\(proxyPort)\n  handler: {type: http}\n  listener: {type: tcp}"
        ).write(to: s.file, atomically: true, encoding: .utf8)
        let applied = try reload(s)
        XCTAssertEqual(applied.code, 200, "\(applied.json)")
        let changes = applied.json["changes"] as? [String] ?? []
        XCTAssertTrue(changes.contains("service proxy started"), "\(changes)")
        XCTAssertFalse(changes.contains { $0.contains("agents") }, "the agent endpoint did not change: \(changes)")
        XCTAssertEqual(try code(s, "b.reload.test"), "200", "the new rule routes")
        let viaProxy = try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", "127.0.0.1:\(proxyPort)", "http://127.0.0.1:\(s.origin)/count"])
        XCTAssertEqual(viaProxy.output, "200", "the new service listens")

        let deadline = Date().addingTimeInterval(90)
        while download.process.isRunning && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(download.process.terminationStatus, 0, download.output)
        let (expected, got) = try h.blobDigests(headers: headers, body: out)
        XCTAssertNotNil(expected)
        XCTAssertEqual(got, expected, "the 64 MiB download arrived byte for byte across the reload")
        XCTAssertEqual(try sessions(s), before, "the agent's sessions were not touched")

        // A broken file: refused with its path, by the API and by SIGHUP; the running config stays.
        try (config(agentPort: s.agentPort, publicPort: s.publicPort) + "\nbogus: 1\n").write(to: s.file, atomically: true, encoding: .utf8)
        let refused = try reload(s)
        XCTAssertEqual(refused.code, 400)
        XCTAssertEqual(refused.json["path"] as? String, "bogus")
        kill(s.relay.process.processIdentifier, SIGHUP)
        _ = try s.relay.wait(for: "SIGHUP: reloading the configuration")
        _ = try s.relay.wait(for: "path=bogus .*reload refused; the running configuration stays")
        XCTAssertEqual(try code(s, "b.reload.test"), "200", "the running configuration stayed")
        XCTAssertEqual(try sessions(s), before)

        // Fixed and without the extra rule and service: both go (by SIGHUP this time).
        try config(agentPort: s.agentPort, publicPort: s.publicPort).write(to: s.file, atomically: true, encoding: .utf8)
        kill(s.relay.process.processIdentifier, SIGHUP)
        _ = try s.relay.wait(for: "configuration reloaded")
        var gone = ""
        for _ in 0..<50 {
            gone = try code(s, "b.reload.test")
            if gone == "404" { break }
            usleep(100_000)
        }
        XCTAssertEqual(gone, "404")
        let closed = try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", "127.0.0.1:\(proxyPort)", "http://127.0.0.1:\(s.origin)/count"])
        XCTAssertEqual(closed.status, 7, "the removed service no longer listens (curl: cannot connect): \(closed.output)")
        XCTAssertEqual(try sessions(s), before)
    }

    /// The tokens file is re-read: a token added admits its agent from then on; a token removed
    /// closes its agent's sessions (and its agent is refused when it tries again).
    func testTokensFileReload() throws {
        let tokens = h.tempFile("tokens.yaml", contents: "tokens:\n- token: alice-token\n  tunnels: [\"*\"]\n")
        let s = try start(tokens: tokens)
        let alice = try agent(s, token: "alice-token")
        _ = try alice.wait(for: "connected to relay")
        XCTAssertEqual(try sessions(s, awaiting: 2).count, 2, "alice's two sessions")
        let bob = try agent(s, token: "bob-token")
        _ = try bob.wait(for: "relay refused")
        try "tokens:\n- token: bob-token\n  tunnels: [\"*\"]\n".write(to: tokens, atomically: true, encoding: .utf8)
        let applied = try reload(s)
        XCTAssertEqual(applied.code, 200, "\(applied.json)")
        let changes = applied.json["changes"] as? [String] ?? []
        XCTAssertEqual(changes.filter { $0.hasPrefix("session ") && $0.contains("closed") }.count, 2, "alice's two sessions: \(changes)")
        let bobAgain = try agent(s, token: "bob-token")
        _ = try bobAgain.wait(for: "connected to relay")
        _ = try alice.wait(for: "relay refused")
        // Alice's agent would go on retrying (and the relay counting its failures from this
        // address): it has made its point.
        alice.process.terminate()
        XCTAssertEqual(try code(s, "a.reload.test"), "200", "bob's agent serves the tunnel now")
        let bobs = try sessions(s, registeredOnly: true)
        XCTAssertFalse(bobs.isEmpty)
        try "tokens: [ {token: x, bogus: 1} ]\n".write(to: tokens, atomically: true, encoding: .utf8)
        let refused = try reload(s)
        XCTAssertEqual(refused.code, 400, "\(refused.json)")
        XCTAssertTrue(Set(bobs).isSubset(of: Set(try sessions(s, registeredOnly: true))), "bob's sessions stay")
    }

    /// A reload that restarts the agent endpoint also gives the HTTPS port (where agents attach
    /// by ALPN) its new settings: a token added to the endpoint admits an agent coming in there.
    func testAgentsOnTheHTTPSPortGetTheReloadedEndpoint() throws {
        let agentPort = try freePort()
        let httpsPort = try freePort()
        func file(tokens: String) -> String {
            """
            services:
            - name: agents
              addr: 127.0.0.1:\(agentPort)
              handler:
                type: tunnel
                metadata: {tokens: "\(tokens)"}
              listener:
                type: tls
            - name: https
              addr: 127.0.0.1:\(httpsPort)
              handler:
                type: entrypoint
                metadata: {https: "true"}
              listener:
                type: tcp
            """
        }
        let config = h.tempFile("relay.yaml", contents: file(tokens: "old-token"))
        let relay = try h.server(["-C", config.path, "--state-dir", h.tempFile("state").path, "-api", "127.0.0.1:0"])
        let api = Int(try relay.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        _ = try relay.port(ofService: "https")
        let args = ["--relay", "127.0.0.1:\(httpsPort)", "--tunnel-id", "web", "--expose", "127.0.0.1:9"]
        let refused = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, args + ["--token", "new-token"], timeout: 30)
        XCTAssertNotEqual(refused.status, 0, "the new token is not accepted yet: \(refused.output)")

        try file(tokens: "old-token,new-token").write(to: config, atomically: true, encoding: .utf8)
        let applied = try h.api(api, "POST", "/reload")
        XCTAssertEqual(applied.code, 200, "\(String(describing: applied.json))")
        XCTAssertTrue(((applied.json as? [String: Any])?["changes"] as? [String] ?? []).contains("service agents restarted"), "\(String(describing: applied.json))")
        let admitted = try h.agent(args + ["--token", "new-token"])
        _ = try admitted.wait(for: "connected to relay")
    }
}
