import Foundation
import XCTest

/// Prometheus metrics on relay and agent, end to end: both started with `-metrics`, scraped
/// before and after real traffic (curl over HTTP, a byte-exact TCP transfer through an rtcp port,
/// an agent with a wrong token, a visitor the tunnel's policy denies), the exposition parsed by
/// the reference parser (`prometheus-client`, `Tests/Support/metrics_scrape.py`).
final class MetricsEndToEndTests: EndToEndTestCase {
    /// One parsed scrape.
    struct Scrape {
        struct Sample {
            var name: String
            var labels: [String: String]
            var value: Double
        }
        var status: Int
        var samples: [Sample]

        /// The sum of the samples named `name` whose labels include `labels` (0 when none).
        func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
            samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
        }

        /// Whether a sample named `name` with these labels exists.
        func has(_ name: String, _ labels: [String: String] = [:]) -> Bool {
            samples.contains { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        }
    }

    func scrape(_ url: String, auth: String? = nil) throws -> Scrape {
        let r = try h.runPython("metrics_scrape.py", [url] + (auth.map { [$0] } ?? []), timeout: 30)
        XCTAssertEqual(r.status, 0, r.output)
        let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any] ?? [:]
        let samples = (json["samples"] as? [[String: Any]] ?? []).map { s in
            Scrape.Sample(name: s["name"] as? String ?? "", labels: s["labels"] as? [String: String] ?? [:], value: (s["value"] as? NSNumber)?.doubleValue ?? .nan)
        }
        return Scrape(status: json["status"] as? Int ?? -1, samples: samples)
    }

    /// Scrapes until `done` holds (counters are handed over at the end of read bursts, so a scrape
    /// right after a client finished may come a moment early), at most 10 s; returns the last.
    func scrape(_ url: String, auth: String? = nil, until done: (Scrape) -> Bool) throws -> Scrape {
        let deadline = Date().addingTimeInterval(10)
        var last = try scrape(url, auth: auth)
        while !done(last) && Date() < deadline {
            usleep(200_000)
            last = try scrape(url, auth: auth)
        }
        return last
    }

    func origin(_ name: String) throws -> Int {
        Int(try h.python("http_origin.py", [name, "300"]).wait(for: "PORT (\\d+)"))!
    }

    /// curl to `host` on the relay's public port; the status code.
    func get(_ publicPort: Int, _ host: String, _ path: String, _ extra: [String] = []) throws -> Int {
        let r = try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", "\(host):\(publicPort):127.0.0.1"] + extra + ["http://\(host):\(publicPort)\(path)"])
        return Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func testMetricsMoveAsTrafficFlows() throws {
        let web = try origin("web")
        let echo = try h.echo("tcp")
        let relayMetrics = try freePort()
        let agentMetrics = try freePort()
        let relay = try startRelay(["-metrics", "127.0.0.1:\(relayMetrics)"])
        let webID = "0b5cf3a4-5d1e-4a64-9a53-4f7a1a3c6b01"
        let tcpID = "0b5cf3a4-5d1e-4a64-9a53-4f7a1a3c6b02"
        let webAgent = try h.agent(agentArgs(relay) + [
            "--expose", "127.0.0.1:\(web)", "--hostname", "app.metrics.test", "--tunnel-id", webID, "--sessions", "1", "--deny", "127.0.0.2/32",
            "-metrics", "127.0.0.1:\(agentMetrics)",
        ])
        let port = try freePort()
        let tcpAgent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)", "--tunnel-id", tcpID, "--sessions", "1"])
        _ = try webAgent.wait(for: "connected to relay")
        _ = try tcpAgent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        let relayURL = "http://127.0.0.1:\(relayMetrics)/metrics"
        let agentURL = "http://127.0.0.1:\(agentMetrics)/metrics"

        let before = try scrape(relayURL) { $0.sum("tunnel_agent_sessions") == 2 }
        XCTAssertEqual(before.status, 200)
        XCTAssertEqual(before.sum("tunnel_agent_sessions"), 2)
        XCTAssertGreaterThanOrEqual(before.sum("tunnel_agent_registrations_total", ["result": "ok"]), 2)
        XCTAssertGreaterThan(before.sum("tunnel_mux_rtt_seconds_count"), 0, "the session's first PING is a round-trip sample")
        let agentBefore = try scrape(agentURL)
        XCTAssertEqual(agentBefore.status, 200)
        XCTAssertEqual(agentBefore.sum("tunnel_agent_sessions"), 1)
        XCTAssertEqual(agentBefore.sum("tunnel_agent_registrations_total", ["result": "ok"]), 1)

        // Traffic: three answers 200, one 404 from the origin, one 403 from the tunnel's policy.
        for _ in 0..<3 { XCTAssertEqual(try get(relay.publicPort, "app.metrics.test", "/info"), 200) }
        XCTAssertEqual(try get(relay.publicPort, "app.metrics.test", "/missing"), 404)
        XCTAssertEqual(try get(relay.publicPort, "app.metrics.test", "/info", ["--interface", "127.0.0.2"]), 403)
        let size = 1 << 20
        let t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(size)"])
        XCTAssertTrue(t.output.hasPrefix("OK \(size) \(size)"), t.output)
        // An agent with a wrong token: refused at registration, counted by reason.
        let intruder = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "--token", "not-the-token", "--pin", relay.pin, "--expose", "127.0.0.1:\(web)"])
        _ = try intruder.wait(for: "refused")

        let web2xx = ["tunnel": webID, "host": "app.metrics.test", "class": "2xx"]
        let after = try scrape(relayURL) { s in
            s.sum("tunnel_http_requests_total", web2xx) >= 3 && s.sum("tunnel_bytes_total", ["tunnel": tcpID, "direction": "out"]) >= Double(size)
                && s.sum("tunnel_agent_registrations_total", ["result": "refused"]) >= 1
        }
        XCTAssertEqual(after.sum("tunnel_http_requests_total", web2xx) - before.sum("tunnel_http_requests_total", web2xx), 3)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_http_requests_total", ["tunnel": webID, "class": "4xx"]), 1)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_http_request_duration_seconds_count"), 4)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_streams_total", ["tunnel": webID]), 4)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_streams_total", ["tunnel": tcpID]), 1)
        XCTAssertGreaterThan(after.sum("tunnel_stream_open_duration_seconds_count"), 0)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_bytes_total", ["tunnel": tcpID, "direction": "in"]), Double(size))
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_bytes_total", ["tunnel": tcpID, "direction": "out"]), Double(size))
        XCTAssertGreaterThan(after.sum("tunnel_bytes_total", ["tunnel": webID, "direction": "out"]), 0)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_policy_refusals_total", ["reason": "ip_denied"]), 1)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_agent_registrations_total", ["result": "refused"]), 1)
        XCTAssertGreaterThanOrEqual(after.sum("tunnel_agent_auth_refusals_total", ["reason": "unknown_token"]), 1)
        XCTAssertEqual(after.sum("tunnel_agent_sessions"), 2, "the refused agent's session is gone")
        XCTAssertGreaterThan(after.sum("tunnel_mux_stream_window_bytes_count"), 0)
        XCTAssertGreaterThan(after.sum("service_connections_total") - before.sum("service_connections_total"), 5)
        XCTAssertTrue(after.has("service_connections_open"))
        // Per service: the public entrypoint took the requests (by class) and carried their bytes.
        XCTAssertGreaterThanOrEqual(after.sum("service_http_requests_total", ["service": "public", "class": "2xx"]), 3)
        XCTAssertGreaterThan(after.sum("service_bytes_total", ["service": "public", "direction": "in"]), 0)
        XCTAssertGreaterThan(after.sum("service_bytes_total", ["service": "public", "direction": "out"]), 0)
        XCTAssertGreaterThan(after.sum("service_bytes_total", ["service": "agents", "direction": "out"]), Double(size), "the agents' port carried the rtcp transfer")

        // The agent's side of the same traffic.
        let agentAfter = try scrape(agentURL) { $0.sum("tunnel_streams_total", ["tunnel": webID]) >= 4 }
        XCTAssertGreaterThanOrEqual(agentAfter.sum("tunnel_streams_total", ["tunnel": webID]), 4, "the 403 never reached the agent")
        XCTAssertGreaterThan(agentAfter.sum("tunnel_bytes_total", ["tunnel": webID, "direction": "in"]), 0)
        XCTAssertGreaterThan(agentAfter.sum("tunnel_bytes_total", ["tunnel": webID, "direction": "out"]), 0)
        XCTAssertGreaterThanOrEqual(agentAfter.sum("tunnel_agent_dial_duration_seconds_count"), 4)
        XCTAssertGreaterThan(agentAfter.sum("tunnel_mux_rtt_seconds_count"), 0)
        XCTAssertEqual(agentAfter.sum("tunnel_agent_sessions"), 1)
    }

    /// The `metrics:` section: its path and basic auth (401 without the credentials), and
    /// `maxHostnames: 1`: the second hostname of the tunnel is counted under `other`.
    func testSectionPathAuthAndHostnameFolding() throws {
        let web = try origin("web")
        let metricsPort = try freePort()
        let yaml = """
            metrics:
              addr: 127.0.0.1:\(metricsPort)
              path: /prom
              auth: {username: prom, password: "s3cret word"}
              maxHostnames: 1
            """
        let relay = try startRelay(["-C", h.tempFile("metrics.yaml", contents: yaml).path])
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(web)", "--hostname", "a.metrics.test", "--hostname", "b.metrics.test", "--sessions", "1"])
        _ = try agent.wait(for: "connected to relay")
        let url = "http://127.0.0.1:\(metricsPort)/prom"
        XCTAssertEqual(try scrape(url).status, 401)
        XCTAssertEqual(try scrape(url, auth: "prom:wrong").status, 401)
        XCTAssertEqual(try scrape(url, auth: "prom:s3cret word").status, 200)

        for _ in 0..<2 { XCTAssertEqual(try get(relay.publicPort, "a.metrics.test", "/info"), 200) }
        XCTAssertEqual(try get(relay.publicPort, "b.metrics.test", "/info"), 200)
        let after = try scrape(url, auth: "prom:s3cret word") { $0.sum("tunnel_http_requests_total") >= 3 }
        XCTAssertEqual(after.sum("tunnel_http_requests_total", ["host": "a.metrics.test", "class": "2xx"]), 2)
        XCTAssertEqual(after.sum("tunnel_http_requests_total", ["host": "other", "class": "2xx"]), 1)
        XCTAssertFalse(after.has("tunnel_http_requests_total", ["host": "b.metrics.test"]), "beyond maxHostnames a hostname has no series of its own")
        let hosts = Set(after.samples.filter { $0.name == "tunnel_http_requests_total" }.compactMap { $0.labels["host"] })
        XCTAssertEqual(hosts, ["a.metrics.test", "other"])
    }
}
