import Foundation
import XCTest

/// The relay's admin API end to end: a relay with `-api` (credentials from an `api:` section),
/// an agent exposing `http_origin.py`, curl as visitor and operator, schemathesis validating every
/// answer against the served OpenAPI document.
final class AdminAPIEndToEndTests: EndToEndTestCase {
    let user = "admin"
    let password = "s3cret-\(UUID().uuidString.prefix(8))"

    typealias Setup = APIFixture

    func start(_ extra: [String] = []) throws -> Setup {
        let config = h.tempFile("api.yaml", contents: "api:\n  auth: {username: \(user), password: \(password)}\n")
        let relay = try startRelay(["-C", config.path, "-api", "127.0.0.1:0"] + extra)
        let api = Int(try relay.process.wait(for: "addr=[^ ]*:(\\d+) dashboard="))!
        let origin = Int(try h.python("http_origin.py", ["admin", "300"]).wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(relay) + ["--tunnel-id", "web", "--expose", "127.0.0.1:\(origin)", "--hostname", "app.admin.test"])
        _ = try agent.wait(for: "connected to relay")
        return Setup(relay: relay, api: api, originPort: origin, agent: agent)
    }

    /// curl on the API, with the credentials unless `auth` is false.
    func call(_ s: Setup, _ method: String, _ path: String, body: String? = nil, auth: Bool = true) throws -> (code: Int, json: Any?) {
        try h.api(s.api, method, path, body: body, credentials: auth ? "\(user):\(password)" : nil)
    }

    func visit(_ s: Setup, _ host: String, _ path: String, _ extra: [String] = []) throws -> (code: Int, body: String) {
        try h.visit(publicPort: s.relay.publicPort, host: host, path, extra)
    }

    func originCount(_ s: Setup) throws -> Int { try h.originCount(s.originPort) }

    /// Without credentials (or with wrong ones) every route, the document and the dashboard are
    /// 401 with a Basic challenge; with them, the agent, its tunnel with traffic, and the rules
    /// it claimed are listed as they are.
    func testCredentialsAgentsTunnelsAndRules() throws {
        let s = try start()
        for path in ["/health", "/agents", "/tunnels", "/rules", "/requests", "/openapi.json"] {
            XCTAssertEqual(try call(s, "GET", path, auth: false).code, 401, path)
        }
        let challenge = try h.curl(["-s", "-i", "http://127.0.0.1:\(s.api)/"])
        XCTAssertTrue(challenge.output.hasPrefix("HTTP/1.1 401"), challenge.output)
        XCTAssertTrue(challenge.output.lowercased().contains("www-authenticate: basic realm="), challenge.output)
        let wrong = try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "\(user):wrong", "http://127.0.0.1:\(s.api)/api/agents"])
        XCTAssertEqual(wrong.output, "401")

        for i in 0..<3 { XCTAssertEqual(try visit(s, "app.admin.test", "/api/info-\(i)").code, 200) }
        // One agent, with its default two sessions (the second may still be registering: the
        // agent says "connected" after its first).
        var agents: [[String: Any]] = []
        for _ in 0..<100 {
            agents = (try call(s, "GET", "/agents").json as? [String: Any])?["agents"] as? [[String: Any]] ?? []
            if agents.count == 2 && agents.allSatisfy({ ($0["tunnels"] as? [String]) == ["web"] }) { break }
            usleep(100_000)
        }
        XCTAssertEqual(agents.count, 2, "\(agents)")
        for agent in agents {
            XCTAssertEqual(agent["tunnels"] as? [String], ["web"])
            XCTAssertEqual(agent["token"] as? String, "operator")
            XCTAssertTrue((agent["version"] as? String ?? "").hasPrefix("tunnel-agent "), "\(agents)")
        }
        XCTAssertGreaterThan(agents.reduce(0) { $0 + ($1["bytesOut"] as? Int ?? 0) }, 0)
        let tunnels = try XCTUnwrap((try call(s, "GET", "/tunnels").json as? [String: Any])?["tunnels"] as? [[String: Any]])
        let web = try XCTUnwrap(tunnels.first { $0["id"] as? String == "web" })
        XCTAssertEqual((web["requests"] as? [String: Int])?["2xx"], 3, "\(web)")
        XCTAssertEqual(web["hostnames"] as? [String], ["app.admin.test"])
        XCTAssertEqual(Set(web["sessions"] as? [String] ?? []), Set(agents.compactMap { $0["id"] as? String }))
        let rules = try XCTUnwrap((try call(s, "GET", "/rules").json as? [String: Any])?["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["hostname"] as? String }, ["app.admin.test"])
        XCTAssertEqual(rules.first?["source"] as? String, "agent")
        let health = try XCTUnwrap(try call(s, "GET", "/health").json as? [String: Any])
        XCTAssertEqual(health["agents"] as? Int, 2)
        XCTAssertEqual(health["role"] as? String, "relay")
    }

    /// A rule added through the API routes at once; removed, its hostname is 404 again. Bad rules
    /// and duplicates are refused with their reason; every write is in the relay's log.
    func testRulesAtRunTimeAndWritesLogged() throws {
        let s = try start()
        XCTAssertEqual(try visit(s, "extra.admin.test", "/api/x").code, 404)
        let added = try call(s, "POST", "/rules", body: #"{"hostname":"extra.admin.test","tunnel":"web"}"#)
        XCTAssertEqual(added.code, 201)
        XCTAssertEqual((added.json as? [String: Any])?["source"] as? String, "api")
        XCTAssertEqual(try visit(s, "extra.admin.test", "/api/x").code, 200)
        XCTAssertEqual(try call(s, "POST", "/rules", body: #"{"hostname":"extra.admin.test","tunnel":"other"}"#).code, 409)
        let bad = try call(s, "POST", "/rules", body: #"{"hostname":"bad host","tunnel":"web"}"#)
        XCTAssertEqual(bad.code, 400)
        XCTAssertTrue(((bad.json as? [String: Any])?["error"] as? String ?? "").contains("not a hostname"), "\(String(describing: bad.json))")
        XCTAssertEqual(try call(s, "POST", "/rules", body: "not json").code, 400)
        XCTAssertEqual(try call(s, "DELETE", "/rules/extra.admin.test").code, 204)
        XCTAssertEqual(try visit(s, "extra.admin.test", "/api/x").code, 404)
        XCTAssertEqual(try call(s, "DELETE", "/rules/extra.admin.test").code, 404)
        XCTAssertEqual(try call(s, "PUT", "/rules").code, 405)
        _ = try s.relay.process.wait(for: "method=DELETE path=/api/rules/extra.admin.test status=204 .*admin API write")
        _ = try s.relay.process.wait(for: "method=POST path=/api/rules status=201 .*admin API write")
    }

    /// The inspector shows a request by its unique path, with heads and timing; replaying it sends
    /// it to the origin again (the origin counts two), and the new record says what it replays.
    /// A POST whose body was kept is replayed byte for byte; without kept bodies, replay is 409.
    func testInspectorAndReplay() throws {
        let s = try start(["--inspect-body-limit", "65536"])
        let unique = "/api/inspect-\(UUID().uuidString)"
        XCTAssertEqual(try visit(s, "app.admin.test", unique + "?q=1").code, 200)
        let listed = try XCTUnwrap((try call(s, "GET", "/requests?tunnel=web&limit=10").json as? [String: Any])?["requests"] as? [[String: Any]])
        let record = try XCTUnwrap(listed.first { $0["path"] as? String == unique + "?q=1" }, "\(listed)")
        XCTAssertEqual(record["status"] as? Int, 200)
        XCTAssertEqual(record["method"] as? String, "GET")
        XCTAssertEqual(record["host"] as? String, "app.admin.test")
        XCTAssertNotNil(record["durationMilliseconds"] as? Double)
        XCTAssertTrue((record["requestHeaders"] as? [[String: String]] ?? []).contains { $0["name"]?.lowercased() == "user-agent" }, "\(record)")
        let id = try XCTUnwrap(record["id"] as? String)
        let before = try originCount(s)
        let replay = try call(s, "POST", "/requests/\(id)/replay")
        XCTAssertEqual(replay.code, 200, "\(String(describing: replay.json))")
        let replayed = try XCTUnwrap(replay.json as? [String: Any])
        XCTAssertEqual(replayed["replayOf"] as? String, id)
        XCTAssertEqual(replayed["status"] as? Int, 200)
        XCTAssertEqual(replayed["path"] as? String, unique + "?q=1")
        XCTAssertEqual(try originCount(s), before + 1, "the origin saw the request a second time")
        // The replay counts in its tunnel's answers like any request.
        let web = ((try call(s, "GET", "/tunnels").json as? [String: Any])?["tunnels"] as? [[String: Any]])?.first { $0["id"] as? String == "web" }
        XCTAssertEqual((web?["requests"] as? [String: Int])?["2xx"], 2, "\(String(describing: web))")
        // The origin's answer (kept, as bodies are on) shows the replay header it received.
        let body = Data(base64Encoded: replayed["responseBody"] as? String ?? "") ?? Data()
        XCTAssertTrue(String(decoding: body, as: UTF8.self).contains("x-tunnel-replay"), String(decoding: body, as: UTF8.self))
        XCTAssertEqual(try call(s, "GET", "/requests/\(replayed["id"] as? String ?? "")").code, 200)

        let payload = String(repeating: "payload-", count: 500)
        let posted = try visit(s, "app.admin.test", "/sha", ["-X", "POST", "--data-binary", payload])
        XCTAssertEqual(posted.code, 200)
        let post = try XCTUnwrap(((try call(s, "GET", "/requests?limit=5").json as? [String: Any])?["requests"] as? [[String: Any]])?.first { $0["method"] as? String == "POST" })
        XCTAssertEqual(post["requestBytes"] as? Int, payload.utf8.count)
        let again = try call(s, "POST", "/requests/\(post["id"] as? String ?? "")/replay")
        XCTAssertEqual(again.code, 200)
        let echoed = Data(base64Encoded: (again.json as? [String: Any])?["responseBody"] as? String ?? "") ?? Data()
        XCTAssertEqual(String(decoding: echoed, as: UTF8.self), posted.body, "the replayed body hashes the same")
        XCTAssertEqual(try call(s, "POST", "/requests/r999999/replay").code, 404)
        XCTAssertEqual(try call(s, "GET", "/requests?limit=0").code, 400)
    }

    func testReplayWithoutKeptBodyIsRefused() throws {
        let s = try start()
        XCTAssertEqual(try visit(s, "app.admin.test", "/sha", ["-X", "POST", "--data-binary", "secret body"]).code, 200)
        let post = try XCTUnwrap(((try call(s, "GET", "/requests").json as? [String: Any])?["requests"] as? [[String: Any]])?.first)
        XCTAssertTrue(post["requestBody"] is NSNull, "bodies are off by default: \(post)")
        let refused = try call(s, "POST", "/requests/\(post["id"] as? String ?? "")/replay")
        XCTAssertEqual(refused.code, 409, "\(String(describing: refused.json))")
    }

    /// Revoking the agent's session closes it (the agent, whose token still holds, reconnects as
    /// a new session); drain sends GOAWAY to every session.
    func testRevokeAndDrain() throws {
        let s = try start()
        let first = try XCTUnwrap(((try call(s, "GET", "/agents").json as? [String: Any])?["agents"] as? [[String: Any]])?.first?["id"] as? String)
        XCTAssertEqual(try call(s, "DELETE", "/agents/\(first)").code, 204)
        XCTAssertEqual(try call(s, "DELETE", "/agents/\(first)").code, 404)
        _ = try s.relay.process.wait(for: "session=\(first) .*revoking agent session")
        var ids: [String] = []
        for _ in 0..<100 {
            ids = ((try call(s, "GET", "/agents").json as? [String: Any])?["agents"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            if ids.count == 2 && !ids.contains(first) { break }
            usleep(100_000)
        }
        XCTAssertFalse(ids.contains(first), "\(ids)")
        XCTAssertEqual(ids.count, 2, "the agent replaced the revoked session: \(ids)")
        let drained = try call(s, "POST", "/drain")
        XCTAssertEqual(drained.code, 200)
        XCTAssertEqual((drained.json as? [String: Any])?["sessions"] as? Int, 2)
    }

    /// Every operation (but the two that cut sessions, tested above; reload included) fuzzed by
    /// schemathesis:
    /// answers validate against the document, undeclared methods get 405, bad input 4xx, no 5xx.
    func testEveryAnswerValidatesAgainstTheOpenAPIDocument() throws {
        let s = try start(["--inspect-body-limit", "1024"])
        for i in 0..<3 { _ = try visit(s, "app.admin.test", "/api/info-\(i)") }
        let doc = try call(s, "GET", "/openapi.json")
        XCTAssertEqual((doc.json as? [String: Any])?["openapi"] as? String, "3.0.3")
        let r = try h.run(
            "/usr/bin/env",
            ["python3", "-m", "schemathesis.cli", "run", "http://127.0.0.1:\(s.api)/api/openapi.json", "-a", "\(user):\(password)",
             "--url", "http://127.0.0.1:\(s.api)/api", "--checks", "all", "-n", "25", "--seed", "7", "--no-color",
             "--exclude-operation-id", "drain", "--exclude-operation-id", "revokeAgent"],
            timeout: 240)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Tested: 13"), r.output)
    }

    /// An API on a public address without credentials refuses to start, saying what to fix.
    func testPublicAPIWithoutCredentialsRefusesToStart() throws {
        let r = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["--state-dir", h.tempFile("state").path, "--agent-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0", "-api", "0.0.0.0:0"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("api.auth"), r.output)
        XCTAssertTrue(r.output.contains("beyond loopback"), r.output)
    }
}
