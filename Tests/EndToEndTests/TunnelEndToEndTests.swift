import Foundation
import XCTest

/// The relay and the agent as real processes on loopback, with curl and Python clients.
final class TunnelEndToEndTests: EndToEndTestCase {
    func startAgent(_ relay: Relay, expose: Int, hostnames: [String], token: String? = nil) throws -> Harness.Running {
        var relay = relay
        if let token { relay.token = token }
        var args = agentArgs(relay) + ["--expose", "127.0.0.1:\(expose)"]
        for n in hostnames { args += ["--hostname", n] }
        return try h.agent(args)
    }

    /// Polls (bounded) until `host` answers `expected`; returns the last status seen.
    func status(_ relay: Relay, host: String, becomes expected: String, within seconds: TimeInterval = 5) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var status = ""
        while Date() < deadline {
            status = try get(relay, host: host).status
            if status == expected { break }
            usleep(100_000)
        }
        return status
    }

    func get(_ relay: Relay, host: String) throws -> (status: String, body: String) {
        let r = try h.curl(["-H", "Host: \(host)", "-w", "__STATUS__%{http_code}", "http://127.0.0.1:\(relay.publicPort)/"])
        guard let marker = r.output.range(of: "__STATUS__") else { return ("", r.output) }
        return (String(r.output[marker.upperBound...]), String(r.output[..<marker.lowerBound]))
    }

    func testHostRoutingWildcardsAndErrors() throws {
        let origin = try h.origin()
        let relay = try startRelay()
        XCTAssertTrue(relay.process.output.contains("tunnel-agent --relay"), relay.process.output)
        let agent = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com", "*.example.org", ".example.net"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try get(relay, host: "app.example.com").body, origin.body)
        XCTAssertEqual(try get(relay, host: "a.example.org").body, origin.body)
        XCTAssertEqual(try get(relay, host: "example.net").body, origin.body, "apex of .example.net")
        XCTAssertEqual(try get(relay, host: "deep.sub.example.net").body, origin.body)
        XCTAssertEqual(try get(relay, host: "unknown.test").status, "404")
        // The agent goes away: its hostnames now answer 503 (tunnel offline), the relay stays up.
        agent.process.terminate()
        agent.process.waitUntilExit()
        XCTAssertEqual(try status(relay, host: "app.example.com", becomes: "503"), "503")
        XCTAssertTrue(relay.process.process.isRunning)
    }

    /// GOST's relay form: `-L "tunnel+tls://:port?entrypoint=:port&tunnel=host:uuid"`, no token
    /// (open, as in GOST), the agent naming the tunnel ID.
    func testGOSTRelayFormWithIngressRule() throws {
        let origin = try h.origin()
        let id = "4d21094e-b74c-4916-86c1-d9fa36ea677b"
        let relay = try h.server(["-L", "tunnel+tls://127.0.0.1:0?entrypoint=127.0.0.1:0&tunnel=app.example.com:\(id)"])
        let agentPort = try relay.port(ofService: "cli-0")
        let publicPort = try relay.port(ofService: "cli-0-entrypoint")
        let agent = try h.agent(["--relay", "127.0.0.1:\(agentPort)", "--tunnel-id", id, "--expose", "127.0.0.1:\(origin.port)"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertTrue(agent.output.contains("not verified"), agent.output)
        let r = try h.curl(["-H", "Host: app.example.com", "http://127.0.0.1:\(publicPort)/"])
        XCTAssertEqual(r.output, origin.body)
        agent.process.terminate()
        agent.process.waitUntilExit()

        // GOST's agent form: an rtcp service whose chain is the tunnel node.
        let gost = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin.port)", "-F", "tunnel+tls://127.0.0.1:\(agentPort)?tunnel.id=\(id)"])
        _ = try gost.wait(for: "connected to relay")
        XCTAssertEqual(try h.curl(["-H", "Host: app.example.com", "http://127.0.0.1:\(publicPort)/"]).output, origin.body)
        // With a port, the relay opens it (rtcp) and carries it to the local target.
        let echo = try h.echo("tcp")
        let port = try freePort()
        let rtcp = try h.agent(["-L", "rtcp://:\(port)/127.0.0.1:\(echo)", "-F", "tunnel+tls://127.0.0.1:\(agentPort)?tunnel.id=5e6f2a1c-0000-4000-8000-000000000001"])
        _ = try rtcp.wait(for: "connected to relay")
        let t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(1 << 20)"])
        XCTAssertTrue(t.output.hasPrefix("OK"), t.output)
    }

    /// GOST's YAML relay: a `tunnel` service naming a top-level `ingresses` entry (exact and
    /// `.domain` rules), plus a plain TCP entrypoint bound to one tunnel.
    func testIngressesFromYAMLAndAPlainTCPEntrypoint() throws {
        let web = try httpOrigin("web")
        let echo = try h.echo("tcp")
        let webID = "4d21094e-b74c-4916-86c1-d9fa36ea677b"
        let tcpID = "ac74d9dd-3125-442a-a7c1-f9e49e05faca"
        let yaml = """
            services:
            - name: agents
              addr: 127.0.0.1:0
              handler:
                type: tunnel
                metadata:
                  entrypoint: 127.0.0.1:0
                  ingress: ingress-0
              listener:
                type: tls
            - name: raw
              addr: 127.0.0.1:0
              handler:
                type: entrypoint
                metadata:
                  tunnel.id: \(tcpID)
              listener:
                type: tcp
            ingresses:
            - name: ingress-0
              rules:
              - hostname: app.example.com
                endpoint: \(webID)
              - hostname: .example.org
                endpoint: \(webID)
            """
        let relay = try h.server(["-C", h.tempFile("relay.yaml", contents: yaml).path])
        let agentPort = try relay.port(ofService: "agents")
        let publicPort = try relay.port(ofService: "agents-entrypoint")
        let rawPort = try relay.port(ofService: "raw")
        let a = try h.agent(["--relay", "127.0.0.1:\(agentPort)", "--tunnel-id", webID, "--expose", "127.0.0.1:\(web)"])
        let b = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(echo)", "-F", "tunnel+tls://127.0.0.1:\(agentPort)?tunnel.id=\(tcpID)"])
        _ = try a.wait(for: "connected to relay")
        _ = try b.wait(for: "connected to relay")
        for host in ["app.example.com", "example.org", "www.example.org"] {
            let r = try h.runPython("http_check.py", ["count", "\(publicPort)", host, "1"])
            XCTAssertEqual(r.output, "COUNTS web=1\n", host)
        }
        let t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(rawPort)", "\(8 << 20)"])
        XCTAssertTrue(t.output.hasPrefix("OK"), t.output)
        // A reference to an ingress that does not exist is refused with its path.
        let bad = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["-C", h.tempFile("bad.yaml", contents: yaml.replacingOccurrences(of: "ingress: ingress-0", with: "ingress: nope")).path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.output.contains("services[0].handler.metadata.ingress: no ingress named \"nope\""), bad.output)
    }

    /// Agents of one tunnel with weights 3 and 1 share new streams 3:1; a weight-255 agent takes
    /// them all while it is connected.
    func testWeightsShareATunnelInProportionAndExclusively() throws {
        let heavy = try httpOrigin("heavy")
        let light = try httpOrigin("light")
        let solo = try httpOrigin("solo")
        let relay = try startRelay()
        let id = "5e6f2a1c-0000-4000-8000-00000000000a"
        func agent(_ port: Int, _ weight: Int) throws -> Harness.Running {
            let r = try h.agent(agentArgs(relay) + ["--tunnel-id", id,
                "--hostname", "w.example.com", "--expose", "127.0.0.1:\(port)", "--weight", "\(weight)", "--sessions", "1"])
            _ = try r.wait(for: "connected to relay")
            return r
        }
        _ = try agent(heavy, 3)
        _ = try agent(light, 1)
        XCTAssertEqual(try h.runPython("http_check.py", ["count", "\(relay.publicPort)", "w.example.com", "40"]).output, "COUNTS heavy=30 light=10\n")
        let exclusive = try agent(solo, 255)
        XCTAssertEqual(try h.runPython("http_check.py", ["count", "\(relay.publicPort)", "w.example.com", "10"]).output, "COUNTS solo=10\n")
        exclusive.process.terminate()
        exclusive.process.waitUntilExit()
        let deadline = Date().addingTimeInterval(5)
        var out = ""
        while Date() < deadline {
            out = try h.runPython("http_check.py", ["count", "\(relay.publicPort)", "w.example.com", "4"]).output
            if !out.contains("solo") && !out.contains("status") { break }
            usleep(100_000)
        }
        XCTAssertEqual(out, "COUNTS heavy=3 light=1\n")
        let bad = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(solo)", "--weight", "0"])
        bad.process.waitUntilExit()
        XCTAssertNotEqual(bad.process.terminationStatus, 0)
    }

    /// The agent endpoint speaks TLS 1.3 only.
    func testAgentEndpointRefusesTLS12() throws {
        let relay = try startRelay()
        let old = try h.run("/usr/bin/env", ["openssl", "s_client", "-tls1_2", "-connect", "127.0.0.1:\(relay.agentPort)"], timeout: 20)
        XCTAssertNotEqual(old.status, 0, old.output)
        let new = try h.run("/bin/sh", ["-c", "echo | openssl s_client -tls1_3 -connect 127.0.0.1:\(relay.agentPort) 2>&1"], timeout: 20)
        XCTAssertTrue(new.output.contains("TLSv1.3"), new.output)
    }

    func testWrongTokenIsRefusedAndLogged() throws {
        let origin = try h.origin()
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"], token: "wrong")
        _ = try agent.wait(for: "relay refused registration: unauthorized")
        _ = try relay.process.wait(for: "agent refused: bad token")
        XCTAssertEqual(try get(relay, host: "app.example.com").status, "404")
        // Refused at its first registration, the agent stops (as frp's client does) instead of
        // retrying into the relay's per-address failure limit.
        let deadline = Date().addingTimeInterval(10)
        while agent.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(agent.process.isRunning)
        XCTAssertNotEqual(agent.process.terminationStatus, 0)
        // A pin that is not a SHA-256 is refused before dialing; a wrong one names what the relay
        // presented.
        let badPin = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "--token", relay.token, "--pin", "00ff", "--expose", "127.0.0.1:\(origin.port)"])
        badPin.process.waitUntilExit()
        XCTAssertNotEqual(badPin.process.terminationStatus, 0)
        XCTAssertTrue(badPin.output.contains("64-hex-digit"), badPin.output)
        let wrongPin = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "--token", relay.token, "--pin", String(repeating: "ab", count: 32), "--expose", "127.0.0.1:\(origin.port)"])
        _ = try wrongPin.wait(for: "presented=\(relay.pin) .*does not match the pin")
    }

    /// A token file narrows what an agent may claim; a claim outside it is refused with the same
    /// answer as a wrong token, and the relay logs the precise reason.
    func testClaimOutsideTheTokensRightsIsRefused() throws {
        let origin = try h.origin()
        let file = h.tempFile("tokens.yaml", contents: "tokens:\n- token: webonly\n  tunnels: ['*']\n  hostnames: ['*.example.com']\n  ports: ['20000-20010']\n")
        var relay = try startRelay(["--tokens", file.path])
        let dir = relay.stateDir
        relay.token = "webonly"
        let ok = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"])
        _ = try ok.wait(for: "connected to relay")
        XCTAssertEqual(try get(relay, host: "app.example.com").body, origin.body)
        let outside = try startAgent(relay, expose: origin.port, hostnames: ["evil.org"])
        _ = try outside.wait(for: "relay refused registration: unauthorized")
        _ = try relay.process.wait(for: "hostname evil.org not allowed for this token")
        XCTAssertEqual(try get(relay, host: "evil.org").status, "404")
        // With a tokens file, the generated token admits nobody.
        let generated = try String(contentsOfFile: dir + "/agent-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let stale = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"], token: generated)
        _ = try stale.wait(for: "relay refused registration: unauthorized")
    }

    /// A Python HTTP/1.1 origin (Tests/Support/http_origin.py) that names itself in its answers.
    func httpOrigin(_ name: String) throws -> Int {
        Int(try h.python("http_origin.py", [name, "300"]).wait(for: "PORT (\\d+)"))!
    }

    /// An upgraded connection (WebSocket-style) is spliced raw: 16 MiB echoed byte-exact after the
    /// 101, the client's half-close carried through.
    func testUpgradedConnectionIsRawAndExactWithHalfClose() throws {
        let origin = try httpOrigin("ws")
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: origin, hostnames: ["echo.test"])
        _ = try agent.wait(for: "connected to relay")
        let r = try h.runPython("http_check.py", ["upgrade", "\(relay.publicPort)", "echo.test", "\(16 << 20)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK \(16 << 20)"), r.output)
    }

    /// Every request of a keep-alive connection is routed by its own Host (two tunnels, answers in
    /// order even when pipelined across them), with X-Forwarded-For/-Proto; uploads and downloads
    /// (Content-Length and chunked) are byte-exact; origin and client closes are honoured.
    func testEachRequestOnAKeepAliveConnectionIsRoutedByItsHost() throws {
        let (_, r) = try runAgainstTwoTunnels("keepalive")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK"), r.output)
    }

    /// Runs `http_check.py mode` against a relay with two HTTP tunnels: a.example.com (an origin
    /// answering "origin-a") and b.example.com ("origin-b").
    private func runAgainstTwoTunnels(_ mode: String) throws -> (Relay, (status: Int32, output: String)) {
        let a = try httpOrigin("origin-a")
        let b = try httpOrigin("origin-b")
        let relay = try startRelay()
        let agentA = try startAgent(relay, expose: a, hostnames: ["a.example.com"])
        let agentB = try startAgent(relay, expose: b, hostnames: ["b.example.com"])
        _ = try agentA.wait(for: "connected to relay")
        _ = try agentB.wait(for: "connected to relay")
        let r = try h.runPython("http_check.py", [mode, "\(relay.publicPort)", "a.example.com", "origin-a", "b.example.com", "origin-b"])
        return (relay, r)
    }

    /// A keep-alive connection idle between requests is closed after --http-idle-timeout; a
    /// request head that never completes gets 408 (slowloris costs a bounded time).
    func testIdleAndSlowHeadConnectionsAreClosed() throws {
        let origin = try httpOrigin("idle")
        let relay = try startRelay(["--http-idle-timeout", "1s"])
        let agent = try startAgent(relay, expose: origin, hostnames: ["idle.test"])
        _ = try agent.wait(for: "connected to relay")
        let out = try h.runPython("http_check.py", ["idle", "\(relay.publicPort)", "idle.test"], timeout: 60)
        XCTAssertEqual(out.status, 0, out.output)
        let lines = out.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, out.output)
        let idle = Double(lines.first?.split(separator: " ").last ?? "") ?? -1
        XCTAssertTrue(lines.first?.hasPrefix("IDLE_CLOSED") == true && idle >= 0.5 && idle < 5, out.output)
        XCTAssertTrue(lines.last?.hasPrefix("PARTIAL 408") == true, out.output)
    }

    /// What hostile origins and clients try against the per-request routing (see http_check.py
    /// hostile): nothing crosses from one tunnel's answers to another's, nothing is smuggled.
    func testHostileOriginsAndClientsCannotCrossTunnels() throws {
        let (relay, r) = try runAgainstTwoTunnels("hostile")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output, "OK hostile\n")
        XCTAssertTrue(relay.process.process.isRunning)
    }

    /// A client reading slowly through the HTTP entrypoint: the body arrives exact, and the relay
    /// holds a bounded amount meanwhile: what the Mux stream window (16 MiB at most) lets the agent
    /// send ahead, not the body, plus at most 8 MiB of read buffers its waiting payloads keep alive.
    /// Measured 13-23 MB of growth (before waiting payloads were bounded: 50-64 MB).
    func testSlowReaderThroughTheHTTPEntrypointIsBounded() throws {
        let origin = try httpOrigin("big")
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: origin, hostnames: ["big.test"])
        _ = try agent.wait(for: "connected to relay")
        let size = 128 << 20
        let r = try h.runPython("http_check.py", ["slow", "\(relay.publicPort)", "big.test", "\(size)", "\(relay.process.process.processIdentifier)", "32"])
        XCTAssertEqual(r.status, 0, r.output)
        let parts = r.output.split(separator: " ")
        XCTAssertEqual(parts.first, "OK", r.output)
        let growth = Int(parts.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? Int.max
        XCTAssertLessThan(growth, 48 * 1024, "relay RSS grew by \(growth) KiB while a 128 MiB body was read slowly")
    }

    /// An agent whose local service is down answers 502 (the tunnel is up, the service is not);
    /// a tunnel with no agent answers 503.
    func testLocalServiceDownIs502AndOfflineTunnelIs503() throws {
        let closed = try freePort()
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: closed, hostnames: ["down.example.com"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try get(relay, host: "down.example.com").status, "502")
        agent.process.terminate()
        agent.process.waitUntilExit()
        XCTAssertEqual(try status(relay, host: "down.example.com", becomes: "503"), "503")
    }

    func testTwoAgentsShareATunnelAndSurviveSIGKILL() throws {
        let origin = try h.origin()
        let relay = try startRelay()
        let first = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"])
        let second = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"])
        _ = try first.wait(for: "connected to relay")
        _ = try second.wait(for: "connected to relay")
        for _ in 0..<4 { XCTAssertEqual(try get(relay, host: "app.example.com").body, origin.body) }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        // The kernel ends the dead agent's connection at once; the relay drops that session when it
        // reads the end (logged), and from then on every request goes to the survivor.
        _ = try relay.process.wait(for: "agent session ended", timeout: 5)
        var ok = 0
        for _ in 0..<10 where try get(relay, host: "app.example.com").body == origin.body { ok += 1 }
        XCTAssertEqual(ok, 10, "requests keep succeeding through the surviving agent")
    }

    func testAgentComesBackAfterRelayRestart() throws {
        let origin = try h.origin()
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"])
        _ = try agent.wait(for: "connected to relay")
        relay.process.process.terminate()
        relay.process.process.waitUntilExit()
        let again = try startRelay(stateDir: relay.stateDir, agentPort: relay.agentPort, publicPort: relay.publicPort)
        XCTAssertEqual(again.pin, relay.pin, "restarts reuse the state")
        XCTAssertEqual(again.token, relay.token)
        let start = Date()
        var body = ""
        while Date().timeIntervalSince(start) < 5 {
            body = (try? get(again, host: "app.example.com").body) ?? ""
            if body == origin.body { break }
            usleep(100_000)
        }
        XCTAssertEqual(body, origin.body, "agent back within 5 s")
    }

    func testProxyProtocolTellsTheLocalServiceWhoCalled() throws {
        let relay = try startRelay()
        for version in ["v1", "v2"] {
            let server = try h.python("proxy_protocol_server.py", [])
            let port = Int(try server.wait(for: "PORT (\\d+)"))!
            let agent = try h.agent(agentArgs(relay) + [
                "--expose", "127.0.0.1:\(port)", "--hostname", "pp-\(version).test", "--proxy-protocol", version])
            _ = try agent.wait(for: "connected to relay")
            let r = try h.curl(["-H", "Host: pp-\(version).test", "--local-port", "47000-47100", "http://127.0.0.1:\(relay.publicPort)/"])
            let expected = version == "v1" ? "PROXY TCP4 127.0.0.1 127.0.0.1 47" : "V2 127.0.0.1 47"
            XCTAssertTrue(r.output.hasPrefix(expected), "\(version): \(r.output)")
            XCTAssertTrue(r.output.contains("\(relay.publicPort)"), "\(version): \(r.output)")
        }
    }

    /// TLS routed by SNI and passed through: curl checks the local server's own certificate (a test
    /// CA), which proves the relay did not terminate TLS. A ClientHello without SNI gets an alert.
    func testSNIPassthroughReachesTheLocalTLSServer() throws {
        let dir = h.tempFile("ca")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let made = try h.run("/bin/bash", [h.root.appendingPathComponent("Tests/Support/make_test_ca.sh").path, dir.path, "app.example.com"])
        XCTAssertEqual(made.status, 0, made.output)
        let tls = try h.python("tls_server.py", [dir.appendingPathComponent("server.pem").path, dir.appendingPathComponent("server.key").path])
        let tlsPort = Int(try tls.wait(for: "PORT (\\d+)"))!
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: tlsPort, hostnames: ["app.example.com"])
        _ = try agent.wait(for: "connected to relay")
        let p = relay.publicPort
        let ok = try h.curl(["--cacert", dir.appendingPathComponent("ca.pem").path, "--resolve", "app.example.com:\(p):127.0.0.1", "https://app.example.com:\(p)/"])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertEqual(ok.output, "tls origin app.example.com:\(p)\n")
        let unknown = try h.curl(["-k", "--resolve", "other.example.com:\(p):127.0.0.1", "https://other.example.com:\(p)/"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("alert") || unknown.output.contains("unrecognized"), unknown.output)
        let noSNI = try h.curl(["-k", "https://127.0.0.1:\(p)/"])
        XCTAssertNotEqual(noSNI.status, 0)
        // Plain HTTP on the same port still routes by Host.
        XCTAssertEqual(try get(relay, host: "unknown.example.com").status, "404")
    }

    /// rtcp: the agent asks the relay to open a TCP port; 64 MiB go through it to a local echo and
    /// back, byte-exact, with half-close. A port outside the relay's range is refused with the reason.
    func testRemoteTCPPort64MiB() throws {
        let echo = try h.echo("tcp")
        let relay = try startRelay()
        let port = try freePort()
        let agent = try h.agent(agentArgs(relay) + [
            "--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(64 << 20)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 67108864 67108864"), r.output)
        // A target that sends 8 MiB and closes while the client (half-closed) is not reading yet:
        // every byte still arrives through relay and agent.
        let blast = try h.python("blast_server.py", ["\(8 << 20)"])
        let bp = Int(try blast.wait(for: "PORT (\\d+)"))!
        let sha = try blast.wait(for: "SHA ([0-9a-f]+)")
        let port2 = try freePort()
        let blastAgent = try h.agent(agentArgs(relay) + [
            "--expose", "127.0.0.1:\(bp)", "--remote-port", "\(port2)"])
        _ = try blastAgent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port2) .*remote port open")
        XCTAssertEqual(try h.runPython("slow_reader.py", ["127.0.0.1", "\(port2)"]).output, "OK \(8 << 20) \(sha)\n")
        let low = try h.agent(agentArgs(relay) + [
            "--expose", "127.0.0.1:\(echo)", "--remote-port", "80"])
        _ = try low.wait(for: "relay refused registration: .*port 80 is outside")
    }

    /// `--ports-addr` keeps the ports agents open on one address (frp's `proxyBindAddr`).
    func testRemotePortsListenOnTheGivenAddressOnly() throws {
        let echo = try h.echo("tcp")
        let relay = try startRelay(["--ports-addr", "127.0.0.2"])
        let port = try freePort()
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.2", "\(port)", "\(1 << 20)"])
        XCTAssertTrue(r.output.hasPrefix("OK 1048576 1048576"), r.output)
        let other = try h.run("/usr/bin/env", ["python3", "-c", """
            import socket, sys
            try:
                socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
                print("CONNECTED")
            except ConnectionRefusedError:
                print("REFUSED")
            """, "\(port)"])
        XCTAssertEqual(other.output, "REFUSED\n")
        let bad = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--ports-addr", "localhost"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--ports-addr takes an IP address"), bad.output)
    }

    /// rudp: a UDP port on the relay, datagrams carried as Mux datagrams to a local UDP echo.
    func testRemoteUDPPort1000Datagrams() throws {
        let echo = try h.echo("udp")
        let relay = try startRelay()
        let port = try freePort()
        let agent = try h.agent(agentArgs(relay) + [
            "--expose", "127.0.0.1:\(echo)", "--remote-udp-port", "\(port)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=udp/\(port) .*remote port open")
        let r = try h.runPython("udp_check.py", ["127.0.0.1", "\(port)", "1000"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 1000"), r.output)
    }

    func testGarbageOnTheAgentPortDisturbsNothing() throws {
        let origin = try h.origin()
        let relay = try startRelay()
        let agent = try startAgent(relay, expose: origin.port, hostnames: ["app.example.com"])
        _ = try agent.wait(for: "connected to relay")
        for _ in 0..<3 {
            _ = try h.runPython("bad_input.py", ["garbage", "127.0.0.1", "\(relay.agentPort)"])
            _ = try h.runPython("bad_input.py", ["garbage", "127.0.0.1", "\(relay.publicPort)"])
        }
        XCTAssertTrue(relay.process.process.isRunning)
        XCTAssertEqual(try get(relay, host: "app.example.com").body, origin.body)
    }
}
