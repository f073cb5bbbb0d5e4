import Foundation
import TestSupport
import XCTest

/// Relays sharing one etcd (Debian's `etcd`, started here on loopback): one identity for all,
/// sealed in etcd; membership on a lease.
final class ClusterEndToEndTests: EndToEndTestCase {
    var etcd: EtcdCluster!
    var keyFile: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        etcd = try EtcdCluster()
        keyFile = h.tempFile("cluster.key", contents: "cluster-secret-\(UUID().uuidString)\n").path
    }

    override func tearDown() {
        super.tearDown()
        etcd?.stop()
    }

    func clusterArgs(key: String? = nil, ttl: Int = 2) -> [String] {
        ["--etcd", etcd.endpoints, "--cluster-key-file", key ?? keyFile, "--cluster-lease-ttl", "\(ttl)"]
    }

    /// The keys etcd holds at `key` (up to `rangeEnd`, exclusive, when given), with their values.
    func etcdRange(_ key: String, to rangeEnd: String? = nil) throws -> [(key: String, value: Data)] {
        var body = ["key": Data(key.utf8).base64EncodedString()]
        if let rangeEnd { body["range_end"] = Data(rangeEnd.utf8).base64EncodedString() }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let r = try h.curl(["-s", etcd.members[0].clientURL + "/v3/kv/range", "-d", json])
        let answer = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
        return ((answer?["kvs"] as? [[String: Any]]) ?? []).compactMap { kv in
            guard let k = (kv["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
            return (String(decoding: k, as: UTF8.self), (kv["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data())
        }
    }

    /// The value etcd holds at `key` (base64-decoded), nil when there is none.
    func etcdValue(_ key: String) throws -> Data? { try etcdRange(key).first?.value }

    /// The IDs of the relays in the member list.
    func members() throws -> [String] {
        let prefix = "/tunnel/members/"
        return try etcdRange(prefix, to: prefix.dropLast() + "0").map { String($0.key.dropFirst(prefix.count)) }.sorted()
    }

    /// Two and three relays with empty state directories print the same pin and token; an agent
    /// given relay 1's attaches to relay 3; etcd holds the identity only sealed.
    func testRelaysStartedEmptyShareOneIdentity() throws {
        let r1 = try startRelay(clusterArgs() + ["--relay-id", "one"])
        let r2 = try startRelay(clusterArgs() + ["--relay-id", "two"])
        // The third from a config file's `etcd:` section instead of flags.
        let section = h.tempFile("etcd.yaml", contents: """
            etcd:
              endpoints: [\(etcd.endpoints)]
              clusterKeyFile: \(keyFile!)
              leaseTTL: 2
              relayID: three
            """)
        let r3 = try startRelay(["-C", section.path])
        let printed = try [r1, r2, r3].map { try $0.process.wait(for: "--token ([0-9a-f]+) --pin") }
        XCTAssertEqual(Set(printed).count, 1, "one token printed by all: \(printed)")
        XCTAssertEqual(printed[0], r1.token)
        XCTAssertEqual(r2.pin, r1.pin)
        XCTAssertEqual(r3.pin, r1.pin)
        XCTAssertTrue(r1.process.output.contains("identity=published"), r1.process.output)
        XCTAssertTrue(r3.process.output.contains("identity=adopted"), r3.process.output)

        let agent = try h.agent(["--relay", "127.0.0.1:\(r3.agentPort)", "--token", r1.token, "--pin", r1.pin, "--tunnel-id", "web", "--expose", "127.0.0.1:9", "--hostname", "app.cluster.test"])
        _ = try agent.wait(for: "connected to relay")

        let stored = try XCTUnwrap(try etcdValue("/tunnel/identity"))
        let text = String(decoding: stored, as: UTF8.self)
        XCTAssertFalse(text.contains("BEGIN"), "no PEM in the clear")
        XCTAssertFalse(text.contains(r1.token), "no token in the clear")
        XCTAssertEqual(try members(), ["one", "three", "two"])
    }

    /// A relay with another cluster key cannot open the identity and refuses to start, naming
    /// the key; `--etcd` without a key file is refused before anything is stored.
    func testWrongOrMissingClusterKeyIsRefused() throws {
        _ = try startRelay(clusterArgs())
        let other = h.tempFile("other.key", contents: "a-different-secret-0123456789").path
        let wrong = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--state-dir", h.tempFile("s2").path, "--agent-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0"] + clusterArgs(key: other))
        XCTAssertEqual(wrong.status, 2, wrong.output)
        XCTAssertTrue(wrong.output.contains("/tunnel/identity: cannot be opened with this --cluster-key-file"), wrong.output)
        let missing = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--state-dir", h.tempFile("s3").path, "--etcd", etcd.endpoints])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("--etcd needs --cluster-key-file"), missing.output)
        let misspelt = h.tempFile("bad.yaml", contents: "etcd:\n  endpoint: [\(etcd.endpoints)]\n")
        let unknown = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--state-dir", h.tempFile("s5").path, "-C", misspelt.path])
        XCTAssertEqual(unknown.status, 2, unknown.output)
        XCTAssertTrue(unknown.output.contains("etcd.endpoint"), unknown.output)
        let short = h.tempFile("short.key", contents: "short").path
        let weak = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--state-dir", h.tempFile("s4").path, "--agent-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0"] + clusterArgs(key: short))
        XCTAssertEqual(weak.status, 2, weak.output)
        XCTAssertTrue(weak.output.contains("at least 16 bytes"), weak.output)
    }

    /// A relay killed with SIGKILL leaves the member list within its lease TTL; one stopped with
    /// SIGTERM leaves at once (its lease revoked).
    func testMembershipFollowsTheRelaysLives() throws {
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "stays"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "killed"])
        let r3 = try startRelay(clusterArgs(ttl: 30) + ["--relay-id", "stopped"])
        XCTAssertEqual(try members(), ["killed", "stays", "stopped"])
        _ = r1
        kill(r2.process.process.processIdentifier, SIGKILL)
        let killedAt = Date()
        var list = try members()
        while list.contains("killed"), Date().timeIntervalSince(killedAt) < 10 {
            usleep(100_000)
            list = try members()
        }
        XCTAssertFalse(list.contains("killed"), "gone from the directory")
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 2 + 1.5, "within its 2 s lease (and etcd's expiry tick)")
        r3.process.process.terminate()
        r3.process.process.waitUntilExit()
        XCTAssertEqual(try members(), ["stays"], "a 30 s lease revoked at SIGTERM: gone at once")
    }

    /// Waits (bounded) until `host` at the relay's public port answers `code`.
    func waitFor(_ relay: Relay, host: String, code: Int, timeout: TimeInterval = 10) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last = -1
        repeat {
            last = try h.visit(publicPort: relay.publicPort, host: host, "/count").code
            if last == code { return last }
            usleep(50_000)
        } while Date() < deadline
        return last
    }

    /// An agent on relay 1 serves visitors at relays 2 and 3 through one hop: at relay 2 1,000
    /// HTTP requests, a 64 MiB download byte for byte, a WebSocket echo and an SNI passthrough, at
    /// relay 3 300 requests and the passthrough; the rule shows in relay 2's API as learnt from
    /// the cluster. When relay 1 is killed, relay 2 routes nothing
    /// to it once its lease has run out.
    func testAnAgentOnOneRelayServesVisitorsAtAnother() throws {
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "holder", "--peer-addr", "127.0.0.1:0"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "entry", "--peer-addr", "127.0.0.1:0", "-api", "127.0.0.1:0"])
        let api = Int(try r2.process.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        let r3 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "third", "--peer-addr", "127.0.0.1:0"])
        let origin = Int(try h.python("http_origin.py", ["hop", "300"]).wait(for: "PORT (\\d+)"))!
        let passCA = try makeCA(["secure.hop.test"])
        let tls = Int(try h.python("tls_server.py", [passCA.cert, passCA.key]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(r1) + ["--tunnel-id", "web", "--expose", "127.0.0.1:\(origin)", "--hostname", "app.hop.test"])
        _ = try agent.wait(for: "connected to relay")
        let tlsAgent = try h.agent(agentArgs(r1) + ["--tunnel-id", "secure", "--expose", "127.0.0.1:\(tls)", "--hostname", "secure.hop.test"])
        _ = try tlsAgent.wait(for: "connected to relay")
        XCTAssertEqual(try waitFor(r2, host: "app.hop.test", code: 200), 200, r2.process.output)

        let many = try h.runPython("http_many.py", ["app.hop.test", "\(r2.publicPort)", "1000", "4"])
        XCTAssertEqual(many.output.trimmingCharacters(in: .whitespacesAndNewlines), "OK 1000", "every request through the hop answered")

        let out = h.tempFile("blob")
        let headers = h.tempFile("headers")
        let download = try h.curl(["-s", "-m", "120", "-H", "Host: app.hop.test", "-D", headers.path, "-o", out.path, "http://127.0.0.1:\(r2.publicPort)/blob/67108864"])
        XCTAssertEqual(download.status, 0, download.output)
        let (expected, got) = try h.blobDigests(headers: headers, body: out)
        XCTAssertNotNil(expected)
        XCTAssertEqual(got, expected, "64 MiB across the hop, byte for byte")

        let ws = try h.runPython("web_checks.py", ["ws", "\(r2.publicPort)", "app.hop.test", "-"])
        XCTAssertEqual(ws.status, 0, ws.output)

        let passthrough = try h.curl(["--cacert", passCA.ca, "--resolve", "secure.hop.test:\(r2.publicPort):127.0.0.1", "https://secure.hop.test:\(r2.publicPort)/"])
        XCTAssertEqual(passthrough.output, "tls origin secure.hop.test:\(r2.publicPort)\n", "SNI passthrough across the hop")

        // A third relay serves it too.
        XCTAssertEqual(try waitFor(r3, host: "app.hop.test", code: 200), 200)
        let third = try h.runPython("http_many.py", ["app.hop.test", "\(r3.publicPort)", "300", "2"])
        XCTAssertEqual(third.output.trimmingCharacters(in: .whitespacesAndNewlines), "OK 300")
        let passthrough3 = try h.curl(["--cacert", passCA.ca, "--resolve", "secure.hop.test:\(r3.publicPort):127.0.0.1", "https://secure.hop.test:\(r3.publicPort)/"])
        XCTAssertEqual(passthrough3.output, "tls origin secure.hop.test:\(r3.publicPort)\n")

        let rules = try h.api(api, "GET", "/rules").json as? [String: Any]
        let learnt = (rules?["rules"] as? [[String: Any]] ?? []).first { $0["hostname"] as? String == "app.hop.test" }
        XCTAssertEqual(learnt?["source"] as? String, "cluster", "\(String(describing: rules))")
        XCTAssertGreaterThanOrEqual(try h.originCount(origin), 1001)

        // The cluster as relay 2's API shows it: both members, who holds which tunnel, and the
        // hops its peer session to relay 1 carried (one stream per visitor connection: the four
        // keep-alive connections of the 1,000 requests, the download, the WebSocket, ...).
        let cluster = try XCTUnwrap(try h.api(api, "GET", "/cluster").json as? [String: Any])
        XCTAssertEqual(cluster["relay"] as? String, "entry")
        XCTAssertEqual((cluster["members"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["entry", "holder", "third"])
        let holdings = (cluster["tunnels"] as? [[String: Any]] ?? []).reduce(into: [String: [String]]()) { $0[$1["tunnel"] as? String ?? ""] = $1["relays"] as? [String] }
        XCTAssertEqual(holdings["web"], ["holder"])
        XCTAssertEqual(holdings["secure"], ["holder"])
        let outgoing = (cluster["peers"] as? [[String: Any]] ?? []).filter { $0["direction"] as? String == "out" }
        XCTAssertEqual(outgoing.first?["relay"] as? String, "holder")
        XCTAssertGreaterThanOrEqual(outgoing.first?["streamsTotal"] as? Int ?? 0, 7, "\(cluster)")
        XCTAssertGreaterThan(outgoing.first?["bytesIn"] as? Int ?? 0, 64 << 20, "the download came through it")
        // The answer of a relay in a cluster validates against the served document too.
        let checked = try h.run(
            "/usr/bin/env",
            ["python3", "-m", "schemathesis.cli", "run", "http://127.0.0.1:\(api)/api/openapi.json", "--url", "http://127.0.0.1:\(api)/api",
             "--checks", "all", "-n", "5", "--seed", "7", "--no-color", "--include-operation-id", "cluster", "--phases", "examples,coverage,fuzzing"],
            timeout: 120)
        XCTAssertEqual(checked.status, 0, checked.output)
        XCTAssertTrue(checked.output.contains("Tested: 1"), checked.output)
        let status = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["status", "--api", "127.0.0.1:\(api)"])
        XCTAssertEqual(status.status, 0, status.output)
        XCTAssertTrue(status.output.contains("entry (this relay)"), status.output)
        XCTAssertTrue(status.output.range(of: "holder +127\\.0\\.0\\.1:\\d+ +\\S+ +secure,web", options: .regularExpression) != nil, status.output)

        kill(r1.process.process.processIdentifier, SIGKILL)
        let code = try waitFor(r2, host: "app.hop.test", code: 404, timeout: 10)
        XCTAssertEqual(code, 404, "once relay 1's lease ran out, relay 2 no longer routes its hostname")
    }

    /// An agent given two relays holds sessions to both: while visitors keep coming to relay 2,
    /// relay 1 is killed with SIGKILL and every request still succeeds (no reconnect needed).
    func testAnAgentOnTwoRelaysSurvivesOneBeingKilled() throws {
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "first", "--peer-addr", "127.0.0.1:0"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "second", "--peer-addr", "127.0.0.1:0"])
        let origin = Int(try h.python("http_origin.py", ["both", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent([
            "--relay", "127.0.0.1:\(r1.agentPort),127.0.0.1:\(r2.agentPort)", "--token", r1.token, "--pin", r1.pin,
            "--tunnel-id", "web", "--expose", "127.0.0.1:\(origin)", "--hostname", "both.cluster.test",
        ])
        for relay in [r1, r2] { _ = try agent.wait(for: "relay=127\\.0\\.0\\.1:\(relay.agentPort) session=\\d+ \\[TunnelAgent\\] connected to relay") }
        XCTAssertEqual(try waitFor(r1, host: "both.cluster.test", code: 200), 200)
        XCTAssertEqual(try waitFor(r2, host: "both.cluster.test", code: 200), 200)
        let load = try h.python("http_many.py", ["both.cluster.test", "\(r2.publicPort)", "6000", "4"])
        usleep(300_000)
        XCTAssertTrue(load.process.isRunning, "relay 1 dies while the visitors come")
        kill(r1.process.process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(90)
        while load.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(load.output.trimmingCharacters(in: .whitespacesAndNewlines), "OK 6000", "no request failed while relay 1 died")
    }

    /// etcd stopped entirely: established tunnels keep working at both relays; a new agent's
    /// claim is refused with a clear, temporary error and retried; when etcd returns, the new
    /// agent registers and its hostname is served at the other relay too.
    func testEtcdStoppedEntirelyThenBack() throws {
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "one", "--peer-addr", "127.0.0.1:0"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "two", "--peer-addr", "127.0.0.1:0"])
        let origin = Int(try h.python("http_origin.py", ["down", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(r1) + ["--tunnel-id", "a", "--expose", "127.0.0.1:\(origin)", "--hostname", "a.down.test"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try waitFor(r2, host: "a.down.test", code: 200), 200)

        etcd.kill(0)
        usleep(3_000_000)  // past the 2 s lease: the relays know etcd is gone
        for relay in [r1, r2] {
            let many = try h.runPython("http_many.py", ["a.down.test", "\(relay.publicPort)", "200", "2"])
            XCTAssertEqual(many.output.trimmingCharacters(in: .whitespacesAndNewlines), "OK 200", "established tunnels keep working at \(relay.publicPort)")
        }
        let late = try h.agent(agentArgs(r1) + ["--tunnel-id", "b", "--expose", "127.0.0.1:\(origin)", "--hostname", "b.down.test"])
        _ = try late.wait(for: "unavailable: the cluster's store \\(etcd\\) is unreachable")
        XCTAssertTrue(late.process.isRunning, "a temporary refusal is retried, not fatal")
        XCTAssertEqual(try h.visit(publicPort: r1.publicPort, host: "b.down.test", "/count").code, 404, "the refused claim routes nowhere")

        try etcd.start(0)
        try etcd.waitHealthy()
        _ = try late.wait(for: "connected to relay", timeout: 40)
        XCTAssertEqual(try waitFor(r1, host: "b.down.test", code: 200), 200)
        XCTAssertEqual(try waitFor(r2, host: "b.down.test", code: 200, timeout: 20), 200, "the other relay caught up")
        XCTAssertEqual(try waitFor(r2, host: "a.down.test", code: 200), 200)
    }

    /// A three-member etcd loses a member: nothing visible changes (requests across the hop go
    /// on, a new agent registers and is served at the other relay).
    func testAnEtcdMemberKilledChangesNothingVisible() throws {
        etcd.stop()
        etcd = try EtcdCluster(size: 3)
        // The default lease (5 s): a member lost is noticed by a call to it failing (1 s), then
        // the next member answers, well within it.
        let r1 = try startRelay(clusterArgs(ttl: 5) + ["--relay-id", "one", "--peer-addr", "127.0.0.1:0"])
        let r2 = try startRelay(clusterArgs(ttl: 5) + ["--relay-id", "two", "--peer-addr", "127.0.0.1:0"])
        let origin = Int(try h.python("http_origin.py", ["three", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(r1) + ["--tunnel-id", "a", "--expose", "127.0.0.1:\(origin)", "--hostname", "a.three.test"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try waitFor(r2, host: "a.three.test", code: 200), 200)
        let load = try h.python("http_many.py", ["a.three.test", "\(r2.publicPort)", "600", "2"])
        etcd.kill(0)
        let deadline = Date().addingTimeInterval(90)
        while load.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(load.output.trimmingCharacters(in: .whitespacesAndNewlines), "OK 600")
        let late = try h.agent(agentArgs(r2) + ["--tunnel-id", "b", "--expose", "127.0.0.1:\(origin)", "--hostname", "b.three.test"])
        _ = try late.wait(for: "connected to relay")
        XCTAssertEqual(try waitFor(r1, host: "b.three.test", code: 200), 200, "recorded and seen with two members of three")
        XCTAssertFalse(r1.process.output.contains("unavailable"), r1.process.output)
    }

    /// SIGTERM to the relay holding the agent while a visitor at another relay downloads through
    /// it: the relay drains (its agent sessions and the peer session both let the stream finish)
    /// and the download arrives whole; the relay then leaves the cluster.
    func testAHoldingRelayDrainsPeerStreamsAtSIGTERM() throws {
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "leaving", "--peer-addr", "127.0.0.1:0", "--drain-timeout", "30s"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "staying", "--peer-addr", "127.0.0.1:0"])
        let origin = Int(try h.python("http_origin.py", ["drain", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(r1) + ["--tunnel-id", "web", "--expose", "127.0.0.1:\(origin)", "--hostname", "drain.cluster.test"])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try waitFor(r2, host: "drain.cluster.test", code: 200), 200)
        let out = h.tempFile("drained")
        let headers = h.tempFile("drained-headers")
        let download = try h.start("/usr/bin/env", [
            "curl", "-sS", "-m", "60", "--limit-rate", "8M", "-H", "Host: drain.cluster.test", "-D", headers.path, "-o", out.path,
            "http://127.0.0.1:\(r2.publicPort)/blob/16777216",
        ])
        usleep(600_000)
        XCTAssertTrue(download.process.isRunning, "the download is under way at the SIGTERM")
        r1.process.process.terminate()
        let deadline = Date().addingTimeInterval(60)
        while download.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(download.process.terminationStatus, 0, download.output)
        let (expected, got) = try h.blobDigests(headers: headers, body: out)
        XCTAssertEqual(got, expected, "16 MiB through a draining relay, byte for byte")
        r1.process.process.waitUntilExit()
        XCTAssertEqual(try members(), ["staying"])
    }

    /// An rtcp port an agent asks relay 1 for opens on relay 2 too: 16 MiB echoed byte for byte
    /// through relay 2 (one hop); when the agent leaves, the port closes on both.
    func testRemotePortsOpenOnEveryRelay() throws {
        // Two relays on one host: each opens its ports on its own loopback address.
        let r1 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "one", "--peer-addr", "127.0.0.1:0", "--ports", "1024-65535", "--ports-addr", "127.0.0.1"])
        let r2 = try startRelay(clusterArgs(ttl: 2) + ["--relay-id", "two", "--peer-addr", "127.0.0.1:0", "--ports", "1024-65535", "--ports-addr", "127.0.0.2"])
        let echo = try h.echo("tcp")
        let port = try freePort()
        let agent = try h.agent(agentArgs(r1) + ["--tunnel-id", "raw", "--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try r2.process.wait(for: "port=\(port) .*opened a port for a tunnel held by another relay")
        let t = try h.runPython("tcp_transfer.py", ["127.0.0.2", "\(port)", "\(16 << 20)"])
        XCTAssertTrue(t.output.hasPrefix("OK \(16 << 20) \(16 << 20)"), t.output)
        // Another tunnel asking relay 2 for the same port is refused there, with the reason.
        let rival = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, agentArgs(r2) + ["--tunnel-id", "rival", "--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)"], timeout: 30)
        XCTAssertNotEqual(rival.status, 0)
        XCTAssertTrue(rival.output.contains("port tcp/\(port) belongs to another tunnel"), rival.output)
        agent.process.terminate()
        agent.process.waitUntilExit()
        _ = try r2.process.wait(for: "port=tcp/\(port) .*remote port closed")
        let refused = try h.runPython("tcp_transfer.py", ["127.0.0.2", "\(port)", "1024", "3"])
        XCTAssertNotEqual(refused.status, 0, "closed everywhere once its agent left")
    }

    /// The peer port takes only the cluster's relays: without a client certificate the handshake
    /// ends with `certificate required`, with the agents' server certificate (another CA) with
    /// `unknown ca`; with the cluster's peer certificate it completes with ALPN `tunnel-peer/1`.
    func testThePeerPortAdmitsOnlyTheClustersRelays() throws {
        let peerPort = try freePort()
        let relay = try startRelay(clusterArgs() + ["--peer-addr", "127.0.0.1:\(peerPort)"])
        func handshake(_ extra: [String]) throws -> String {
            try h.run("/bin/sh", ["-c", "sleep 1 | openssl s_client -connect 127.0.0.1:\(peerPort) -alpn tunnel-peer/1 " + extra.joined(separator: " ") + " 2>&1"], timeout: 20).output
        }
        let anonymous = try handshake([])
        XCTAssertTrue(anonymous.contains("alert certificate required"), anonymous)
        let agentsCA = try handshake(["-cert", relay.stateDir + "/server.pem", "-key", relay.stateDir + "/server-key.pem"])
        XCTAssertTrue(agentsCA.contains("alert unknown ca"), agentsCA)
        let peer = try handshake(["-cert", relay.stateDir + "/peer.pem", "-key", relay.stateDir + "/peer-key.pem", "-CAfile", relay.stateDir + "/peer-ca.pem"])
        XCTAssertTrue(peer.contains("ALPN protocol: tunnel-peer/1"), peer)
        XCTAssertTrue(peer.contains("Verify return code: 0 (ok)"), peer)
        XCTAssertFalse(peer.contains("alert"), peer)
    }
}
