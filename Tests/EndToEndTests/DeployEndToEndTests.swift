import Foundation
import XCTest

/// The deployment files of `deploy/` checked by the tools operators check them with: the systemd
/// units by `systemd-analyze verify` (and its sandbox score), the Kubernetes manifests against the
/// Kubernetes schemas, the compose file against the Compose schema, and the example relay
/// configuration by the relay itself. All offline; `.ci/run` installs the validators.
final class DeployEndToEndTests: EndToEndTestCase {
    var deploy: URL { h.root.appendingPathComponent("deploy") }

    /// The units as they ship, with ExecStart pointing at the binaries just built (verify
    /// requires an executable there), in a directory of their own.
    func unitsWithBuiltBinaries() throws -> [String] {
        let dir = h.tempFile("units")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var paths: [String] = []
        for name in ["tunnel-server.service", "tunnel-agent.service"] {
            let text = try String(contentsOf: deploy.appendingPathComponent("systemd/\(name)"), encoding: .utf8)
            XCTAssertTrue(text.contains("ExecStart=/usr/local/bin/"), name)
            let local = text.replacingOccurrences(of: "/usr/local/bin/", with: h.binDir.path + "/")
            let url = dir.appendingPathComponent(name)
            try local.write(to: url, atomically: true, encoding: .utf8)
            paths.append(url.path)
        }
        return paths
    }

    /// `systemd-analyze verify` accepts both units without a word about them.
    func testSystemdUnitsVerify() throws {
        let units = try unitsWithBuiltBinaries()
        let r = try h.run("/usr/bin/env", ["systemd-analyze", "verify", "--man=no"] + units)
        XCTAssertEqual(r.status, 0, r.output)
        let remarks = r.output.split(separator: "\n").filter { $0.contains("tunnel-server") || $0.contains("tunnel-agent") }
        XCTAssertEqual(remarks, [], r.output)
    }

    /// The sandbox stays tight: systemd's own exposure score is at most 2.0 ("OK") for both units,
    /// and the relay holds no capability beyond binding low ports.
    func testSystemdUnitsSandbox() throws {
        for unit in try unitsWithBuiltBinaries() {
            let r = try h.run("/usr/bin/env", ["systemd-analyze", "security", "--offline=true", "--no-pager", unit])
            XCTAssertEqual(r.status, 0, r.output)
            let regex = try NSRegularExpression(pattern: "exposure level for [^:]+: ([0-9.]+)")
            let match = try XCTUnwrap(regex.firstMatch(in: r.output, range: NSRange(r.output.startIndex..., in: r.output)), r.output)
            let score = try XCTUnwrap(Range(match.range(at: 1), in: r.output).flatMap { Double(r.output[$0]) }, r.output)
            XCTAssertLessThanOrEqual(score, 2.0, r.output)
        }
        let relay = try String(contentsOf: deploy.appendingPathComponent("systemd/tunnel-server.service"), encoding: .utf8)
        for line in ["DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=tunnel-server", "Environment=TUNNEL_STATE_DIR=%S/tunnel-server",
                     "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "ExecReload=/bin/kill -HUP $MAINPID"] {
            XCTAssertTrue(relay.split(separator: "\n").contains(Substring(line)), line)
        }
    }

    /// The relay starts with the unit's configuration file and flags (on loopback ports here):
    /// the example parses and -metrics/-api listen.
    func testRelayStartsWithTheUnitsConfiguration() throws {
        let config = deploy.appendingPathComponent("systemd/relay.yaml").path
        let relay = try startRelay(["-C", config, "-metrics", "127.0.0.1:0", "-api", "127.0.0.1:0"])
        let metrics = try h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(try metricsPort(relay))/metrics"])
        XCTAssertEqual(metrics.output, "200")
    }

    /// Every manifest against the Kubernetes schemas (unknown fields fail), and the references
    /// between them (Secrets, ConfigMaps, selectors, named ports).
    func testKubernetesManifestsValidate() throws {
        let r = try h.runPython("deploy_check.py", ["kubernetes", deploy.appendingPathComponent("kubernetes").path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("OK kubernetes: "), r.output)
    }

    /// The compose file against the Compose schema.
    func testComposeFileValidates() throws {
        let r = try h.runPython("deploy_check.py", ["compose", deploy.appendingPathComponent("compose.yaml").path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("OK compose: 3 services"), r.output)
    }

    /// The compose file's agent attaches as it does there: the relay advertises a name (its
    /// certificate covers it), the agent trusts the relay's `ca.pem` and reads `agent-token` from
    /// the relay's state directory, and reaches relay and service by name.
    func testComposeAgentAttachesWithTheRelaysStateFiles() throws {
        let relay = try startRelay(["--advertise", "localhost"])
        let origin = try h.origin()
        let agent = try h.agent(["--relay", "localhost:\(relay.agentPort)", "--ca", relay.stateDir + "/ca.pem", "--token-file", relay.stateDir + "/agent-token",
                                 "--expose", "localhost:\(origin.port)", "--hostname", "app.localhost"])
        _ = try agent.wait(for: "connected to relay")
        let page = try h.curl(["-H", "Host: app.localhost", "http://127.0.0.1:\(relay.publicPort)/"])
        XCTAssertEqual(page.output, origin.body)
    }

    func metricsPort(_ relay: Relay) throws -> Int {
        Int(try relay.process.wait(for: "addr=[^ ]*:(\\d+) path=/metrics"))!
    }
}
