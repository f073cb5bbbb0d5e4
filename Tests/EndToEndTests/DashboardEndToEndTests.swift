import Foundation
import XCTest

/// The dashboard in a real headless Chromium (`Tests/Support/dashboard_check.py`, Selenium under
/// Debian's /usr/bin/python3): a relay with its admin API, an agent and a few requests through the
/// tunnel; the page must show the agents, tunnels, rules and requests the API lists, draw the
/// traffic graph, open a request's detail and replay it. The screenshot stays beside the build
/// (`.build/test-output/`) so a failed run can be looked at.
final class DashboardEndToEndTests: EndToEndTestCase {
    func testDashboardShowsWhatTheAPISays() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            throw HarnessError("chromium is not installed (Debian packages chromium, chromium-driver, python3-selenium; `.ci/run` installs them)")
        }
        let origin = try h.origin()
        let relay = try startRelay(["--api", "127.0.0.1:0", "--inspect-body-limit", "65536"])
        let apiPort = try relay.process.wait(for: "addr=[^ ]*:(\\d+) dashboard=")
        let agent = try h.agent(agentArgs(relay) + ["--tunnel-id", "web", "--expose", "127.0.0.1:\(origin.port)", "--hostname", "app.example.com"])
        _ = try agent.wait(for: "connected to relay")
        for path in ["/", "/dashboard-check?x=1"] {
            let r = try h.curl(["-H", "Host: app.example.com", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(relay.publicPort)\(path)"])
            XCTAssertTrue(r.output.hasSuffix("200") || r.output.hasSuffix("404"), r.output)
        }
        // Traffic while the page polls, so the graph has bytes/s above 0 to draw.
        let traffic = try h.start("/bin/sh", ["-c", "for i in $(seq 1 40); do curl -s -o /dev/null -m 5 -H 'Host: app.example.com' http://127.0.0.1:\(relay.publicPort)/; sleep 0.5; done"])
        defer { if traffic.process.isRunning { traffic.process.terminate() } }

        let outputDir = h.root.appendingPathComponent(".build/test-output")
        try FileManager.default.createDirectory(at: outputDir, withIntermediateDirectories: true)
        let screenshot = outputDir.appendingPathComponent("dashboard.png").path
        let check = try h.run("/usr/bin/python3", [
            h.root.appendingPathComponent("Tests/Support/dashboard_check.py").path,
            "--url", "http://127.0.0.1:\(apiPort)/", "--screenshot", screenshot,
            "--expect-agents", "2", "--expect-tunnel", "web", "--expect-traffic", "web", "--expect-rule", "app.example.com",
            "--expect-request-path", "/dashboard-check?x=1", "--replay", "--timeout", "45",
        ], timeout: 90)
        print("dashboard screenshot: \(screenshot)")
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("\"ok\": true"), check.output)
    }
}
