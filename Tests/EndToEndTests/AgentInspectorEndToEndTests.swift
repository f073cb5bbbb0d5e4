import Foundation
import XCTest

/// The agent's own inspector and admin API end to end (`tunnel-agent --inspect`, as ngrok's
/// agent on 127.0.0.1:4040): a relay, an agent exposing `http_origin.py` with `--inspect
/// 127.0.0.1:0`, curl as visitor and operator, `tunnel-agent status` reading the API, and
/// schemathesis validating every answer against the agent's OpenAPI document.
final class AgentInspectorEndToEndTests: EndToEndTestCase {
    typealias Setup = APIFixture

    func start(_ extra: [String] = []) throws -> Setup {
        let relay = try startRelay()
        let origin = Int(try h.python("http_origin.py", ["inspect", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(
            agentArgs(relay) + ["--tunnel-id", "web", "--expose", "127.0.0.1:\(origin)", "--hostname", "app.inspect.test", "--inspect", "127.0.0.1:0"] + extra)
        let api = Int(try agent.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        _ = try agent.wait(for: "connected to relay")
        return Setup(relay: relay, api: api, originPort: origin, agent: agent)
    }

    /// curl on the agent's API (it has no credentials here).
    func call(_ s: Setup, _ method: String, _ path: String) throws -> (code: Int, json: Any?) {
        try h.api(s.api, method, path)
    }

    func visit(_ s: Setup, _ host: String, _ path: String, _ extra: [String] = []) throws -> (code: Int, body: String) {
        try h.visit(publicPort: s.relay.publicPort, host: host, path, extra)
    }

    func originCount(_ s: Setup) throws -> Int { try h.originCount(s.originPort) }

    /// Waits (bounded) until the agent has `n` live relay sessions (each registers on its own).
    func waitForSessions(_ s: Setup, _ n: Int) throws {
        for _ in 0..<50 {
            if (try call(s, "GET", "/health").json as? [String: Any])?["agents"] as? Int == n { return }
            usleep(100_000)
        }
    }

    /// The records the agent keeps, newest first (the tap records an answer once it is whole:
    /// asked a few times, bounded).
    func records(_ s: Setup, matching path: String) throws -> [[String: Any]] {
        for _ in 0..<50 {
            let listed = (try call(s, "GET", "/requests?tunnel=web&limit=50").json as? [String: Any])?["requests"] as? [[String: Any]] ?? []
            let found = listed.filter { $0["path"] as? String == path }
            if !found.isEmpty { return found }
            usleep(100_000)
        }
        return []
    }

    /// A request through the relay shows in the agent's inspector with its status, host and path;
    /// replayed from the agent it reaches the origin again (the origin counts it) and the new
    /// record says what it replays; health, tunnels and sessions describe the agent.
    func testRequestsAreInspectedAndReplayedToTheLocalService() throws {
        let s = try start(["--inspect-body-limit", "65536"])
        let unique = "/api/agent-inspect-\(UUID().uuidString)"
        XCTAssertEqual(try visit(s, "app.inspect.test", unique + "?q=1").code, 200)
        let record = try XCTUnwrap(try records(s, matching: unique + "?q=1").first, "not recorded")
        XCTAssertEqual(record["status"] as? Int, 200)
        XCTAssertEqual(record["method"] as? String, "GET")
        XCTAssertEqual(record["host"] as? String, "app.inspect.test")
        XCTAssertEqual(record["tunnel"] as? String, "web")
        XCTAssertGreaterThan(record["responseBytes"] as? Int ?? 0, 0)
        let id = try XCTUnwrap(record["id"] as? String)
        XCTAssertEqual((try call(s, "GET", "/requests/\(id)").json as? [String: Any])?["path"] as? String, unique + "?q=1")
        XCTAssertEqual(try call(s, "GET", "/requests/r999999").code, 404)

        let before = try originCount(s)
        let replayed = try call(s, "POST", "/requests/\(id)/replay")
        XCTAssertEqual(replayed.code, 200, "\(String(describing: replayed.json))")
        let replay = try XCTUnwrap(replayed.json as? [String: Any])
        XCTAssertEqual(replay["replayOf"] as? String, id)
        XCTAssertEqual(replay["status"] as? Int, 200)
        XCTAssertEqual(replay["client"] as? String, "replay")
        XCTAssertEqual(try originCount(s), before + 1, "the replay reached the origin")

        try waitForSessions(s, 2)
        let health = try XCTUnwrap(try call(s, "GET", "/health").json as? [String: Any])
        XCTAssertEqual(health["role"] as? String, "agent")
        XCTAssertEqual(health["tunnels"] as? Int, 1)
        XCTAssertEqual(health["agents"] as? Int, 2, "the agent's two relay sessions")
        let sessions = try XCTUnwrap((try call(s, "GET", "/sessions").json as? [String: Any])?["sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.count, 2, "\(sessions)")
        for session in sessions {
            XCTAssertEqual(session["tunnels"] as? [String], ["web"])
            XCTAssertEqual(session["relay"] as? String, "127.0.0.1:\(s.relay.agentPort)")
        }
        let tunnels = try XCTUnwrap((try call(s, "GET", "/tunnels").json as? [String: Any])?["tunnels"] as? [[String: Any]])
        let web = try XCTUnwrap(tunnels.first { $0["id"] as? String == "web" }, "\(tunnels)")
        XCTAssertEqual(web["hostnames"] as? [String], ["app.inspect.test"])
        XCTAssertEqual((web["requests"] as? [String: Int])?["2xx"], 1, "\(web)")
        XCTAssertGreaterThan(web["bytesOut"] as? Int ?? 0, 0)
        XCTAssertEqual(Set(web["sessions"] as? [String] ?? []), Set(sessions.compactMap { $0["id"] as? String }))
    }

    /// `tunnel-agent status --api` prints the agent's health, its tunnel and its relay sessions.
    func testStatusCommandPrintsTheAgent() throws {
        let s = try start()
        XCTAssertEqual(try visit(s, "app.inspect.test", "/api/status").code, 200)
        try waitForSessions(s, 2)
        let r = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, ["status", "--api", "127.0.0.1:\(s.api)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("agent "), r.output)
        XCTAssertTrue(r.output.contains("2 relay sessions"), r.output)
        XCTAssertTrue(r.output.contains("app.inspect.test"), r.output)
        XCTAssertTrue(r.output.contains("127.0.0.1:\(s.relay.agentPort)"), r.output)
        XCTAssertTrue(r.output.contains("web"), r.output)
    }

    /// Every operation of the agent's document fuzzed by schemathesis: answers validate against
    /// it, undeclared methods get 405, bad input 4xx, no 5xx.
    func testEveryAnswerValidatesAgainstTheAgentsOpenAPIDocument() throws {
        let s = try start(["--inspect-body-limit", "1024"])
        for i in 0..<3 { _ = try visit(s, "app.inspect.test", "/api/info-\(i)") }
        let doc = try call(s, "GET", "/openapi.json")
        XCTAssertEqual((doc.json as? [String: Any])?["openapi"] as? String, "3.0.3")
        let r = try h.run(
            "/usr/bin/env",
            ["python3", "-m", "schemathesis.cli", "run", "http://127.0.0.1:\(s.api)/api/openapi.json",
             "--url", "http://127.0.0.1:\(s.api)/api", "--checks", "all", "-n", "20", "--seed", "7", "--no-color"],
            timeout: 240)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Tested: 7"), r.output)  // every operation but the document itself
    }

    /// A stream that is not HTTP (raw TCP on a remote port) passes the tap untouched, byte for
    /// byte both ways, and leaves no record; the tunnel's totals still count it.
    func testRawTCPStreamsPassTheTapUntouched() throws {
        let echo = try h.echo("tcp")
        let relay = try startRelay()
        let port = try freePort()
        let agent = try h.agent(agentArgs(relay) + ["--tunnel-id", "raw", "--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)", "--inspect", "127.0.0.1:0"])
        let api = Int(try agent.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(4 << 20)"])
        XCTAssertTrue(r.output.hasPrefix("OK 4194304 4194304"), r.output)
        let listed = try h.curl(["-s", "http://127.0.0.1:\(api)/api/requests"])
        XCTAssertEqual(listed.output, #"{"requests":[]}"#)
        let tunnels = try h.curl(["-s", "http://127.0.0.1:\(api)/api/tunnels"])
        let raw = ((try JSONSerialization.jsonObject(with: Data(tunnels.output.utf8)) as? [String: Any])?["tunnels"] as? [[String: Any]])?.first
        XCTAssertGreaterThanOrEqual(raw?["bytesIn"] as? Int ?? 0, 4 << 20, tunnels.output)
        XCTAssertGreaterThanOrEqual(raw?["streamsTotal"] as? Int ?? 0, 1, tunnels.output)
    }

    /// Without --relay there is nothing to inspect, but the API still answers (ngrok's agent UI
    /// with no tunnels); --inspect and a different -api together are refused.
    func testInspectAndAPIFlags() throws {
        let both = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, ["-L", "tcp://127.0.0.1:0/127.0.0.1:9", "--inspect", "127.0.0.1:0", "-api", "127.0.0.1:1"])
        XCTAssertNotEqual(both.status, 0, both.output)
        XCTAssertTrue(both.output.contains("--inspect"), both.output)
        let open = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, ["-L", "tcp://127.0.0.1:0/127.0.0.1:9", "--inspect", "0.0.0.0:0"])
        XCTAssertEqual(open.status, 2, open.output)
        XCTAssertTrue(open.output.contains("beyond loopback"), open.output)
    }
}
