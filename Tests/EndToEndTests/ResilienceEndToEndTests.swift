import Foundation
import XCTest

/// Go-away handover, graceful shutdown, the registration deadline and mutual TLS, with the relay
/// and the agent as real processes on loopback.
final class ResilienceEndToEndTests: EndToEndTestCase {
    /// An agent exposing a local TCP echo on a relay port (rtcp); returns the agent and the port.
    func echoAgent(_ relay: Relay, sessions: Int = 1) throws -> (Harness.Running, Int) {
        let echo = try h.echo("tcp")
        let port = try freePort()
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)", "--sessions", "\(sessions)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        return (agent, port)
    }

    func count(_ text: String, _ needle: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// `POST /api/drain`: the relay sends GOAWAY on every agent session without stopping. The
    /// agent opens a new session at once; new connections go through it while a 24 MiB transfer
    /// in flight on the old session finishes byte-exact; then the old session closes.
    func testDrainHandsSessionsOverWithoutCuttingATransfer() throws {
        let relay = try startRelay(["-api", "127.0.0.1:0"])
        let api = try relay.process.wait(for: "addr=[^ ]*:(\\d+) dashboard=")
        let (agent, port) = try echoAgent(relay, sessions: 2)
        _ = try agent.wait(for: "session=1 .*connected to relay|connected to relay.*session=1")
        let transfer = try h.python("paced_transfer.py", ["127.0.0.1", "\(port)", "\(24 << 20)", "5"])
        _ = try transfer.wait(for: "STARTED")
        let drained = try h.curl(["-s", "-X", "POST", "http://127.0.0.1:\(api)/api/drain"])
        XCTAssertEqual(drained.output, #"{"sessions":2}"#)
        _ = try relay.process.wait(for: "sessions=2 .*going away on every agent session")
        _ = try agent.wait(for: "opening a new session in its place")
        // Both slots are replaced (--sessions 2 stays 2 usable sessions).
        let deadline = Date().addingTimeInterval(10)
        while count(agent.output, "connected to relay") < 4 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(count(agent.output, "connected to relay"), 4, agent.output)
        XCTAssertTrue(transfer.process.isRunning, "the transfer is still in flight on the old session")
        // New connections go to the new sessions while the old one drains.
        for _ in 0..<3 {
            let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(1 << 20)"])
            XCTAssertTrue(r.output.hasPrefix("OK 1048576 1048576"), r.output)
        }
        XCTAssertTrue(transfer.process.isRunning, "still in flight")
        let ok = try transfer.wait(for: "(OK \(24 << 20) \(24 << 20) [0-9a-f]{64}|MISMATCH.*|ERROR.*)", timeout: 60)
        XCTAssertTrue(ok.hasPrefix("OK"), ok)
        // The old sessions closed once drained; the agent did not see them as failures.
        _ = try relay.process.wait(for: "agent session ended")
        XCTAssertFalse(agent.output.contains("relay session ended"), agent.output)
        XCTAssertFalse(agent.output.contains("cannot attach"), agent.output)
        let after = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(1 << 20)"])
        XCTAssertTrue(after.output.hasPrefix("OK 1048576 1048576"), after.output)
    }

    /// SIGTERM during a transfer: the relay stops accepting, sends GOAWAY, lets the transfer finish
    /// (within --drain-timeout) and exits 0.
    func testSIGTERMDrainsTheTransferThenExitsZero() throws {
        let relay = try startRelay(["--drain-timeout", "30s"])
        let (agent, port) = try echoAgent(relay)
        let transfer = try h.python("paced_transfer.py", ["127.0.0.1", "\(port)", "\(16 << 20)", "4"])
        _ = try transfer.wait(for: "STARTED")
        relay.process.process.terminate()
        _ = try relay.process.wait(for: "draining agent sessions before exit")
        _ = try agent.wait(for: "relay is going away on this session")
        let ok = try transfer.wait(for: "(OK \(16 << 20) \(16 << 20) [0-9a-f]{64}|MISMATCH.*|ERROR.*)", timeout: 60)
        XCTAssertTrue(ok.hasPrefix("OK"), ok)
        let deadline = Date().addingTimeInterval(15)
        while relay.process.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(relay.process.process.isRunning, relay.process.output)
        XCTAssertEqual(relay.process.process.terminationStatus, 0, relay.process.output)
        XCTAssertTrue(relay.process.output.contains("agent sessions drained"), relay.process.output)
    }

    /// A drain that outlasts --drain-timeout is cut, and the relay still exits.
    func testDrainTimeoutBoundsTheShutdown() throws {
        let relay = try startRelay(["--drain-timeout", "1s"])
        let (_, port) = try echoAgent(relay)
        let transfer = try h.python("paced_transfer.py", ["127.0.0.1", "\(port)", "\(16 << 20)", "20"])
        _ = try transfer.wait(for: "STARTED")
        let start = Date()
        relay.process.process.terminate()
        _ = try relay.process.wait(for: "drain timed out")
        relay.process.process.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(relay.process.process.terminationStatus, 0, relay.process.output)
    }

    /// TLS done but no hello (nothing at all, or only the Mux preface): the relay closes the
    /// session at the registration deadline, says why, and keeps serving real agents.
    func testSessionWithoutHelloIsClosedAtTheRegistrationDeadline() throws {
        let relay = try startRelay(["--registration-timeout", "1s"])
        for mode in ["nothing", "preface"] {
            let r = try h.runPython("silent_agent.py", ["127.0.0.1", "\(relay.agentPort)", mode, "15"], timeout: 30)
            XCTAssertEqual(r.status, 0, "\(mode): \(r.output)")
            let seconds = Double(r.output.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? 99
            XCTAssertGreaterThanOrEqual(seconds, 0.8, "\(mode): \(r.output)")
            XCTAssertLessThan(seconds, 5, "\(mode): \(r.output)")
        }
        XCTAssertEqual(count(relay.process.output, "no registration within 1000 ms"), 2, relay.process.output)
        let origin = try h.origin()
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(origin.port)", "--hostname", "app.test"])
        _ = try agent.wait(for: "connected to relay")
        let got = try h.curl(["-H", "Host: app.test", "http://127.0.0.1:\(relay.publicPort)/"])
        XCTAssertEqual(got.output, origin.body)
        // A registered agent is not closed by the deadline.
        sleep(2)
        XCTAssertEqual(try h.curl(["-H", "Host: app.test", "http://127.0.0.1:\(relay.publicPort)/"]).output, origin.body)
        XCTAssertFalse(agent.output.contains("relay session ended"), agent.output)
    }

    /// --client-ca: an agent with a certificate from that CA attaches; one without a certificate,
    /// or with one from another CA, is refused at the TLS handshake, logged on both sides; the
    /// relay keeps serving.
    func testMutualTLSAdmitsOnlyAgentsWithACertificateFromTheCA() throws {
        let script = h.root.appendingPathComponent("Tests/Support/make_test_ca.sh").path
        let clientScript = h.root.appendingPathComponent("Tests/Support/make_client_cert.sh").path
        var dirs: [URL] = []
        for name in ["ca-a", "ca-b"] {
            let dir = h.tempFile(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            XCTAssertEqual(try h.run("/bin/bash", [script, dir.path, "localhost"]).status, 0)
            XCTAssertEqual(try h.run("/bin/bash", [clientScript, dir.path, "agent"]).status, 0)
            dirs.append(dir)
        }
        let (a, b) = (dirs[0], dirs[1])
        let relay = try startRelay(["--client-ca", a.appendingPathComponent("ca.pem").path])
        let origin = try h.origin()
        let expose = ["--expose", "127.0.0.1:\(origin.port)", "--hostname", "app.test"]
        let good = try h.agent(agentArgs(relay) + expose + ["--cert", a.appendingPathComponent("agent.pem").path, "--key", a.appendingPathComponent("agent.key").path])
        _ = try good.wait(for: "connected to relay")
        XCTAssertEqual(try h.curl(["-H", "Host: app.test", "http://127.0.0.1:\(relay.publicPort)/"]).output, origin.body)

        let none = try h.agent(agentArgs(relay) + expose)
        _ = try none.wait(for: "the relay refused the TLS connection")
        _ = try relay.process.wait(for: "requires=a client certificate .*TLS handshake failed")
        none.process.terminate()
        let before = count(relay.process.output, "TLS handshake failed")

        let other = try h.agent(agentArgs(relay) + expose + ["--cert", b.appendingPathComponent("agent.pem").path, "--key", b.appendingPathComponent("agent.key").path])
        _ = try other.wait(for: "the relay refused the TLS connection")
        let deadline = Date().addingTimeInterval(10)
        while count(relay.process.output, "TLS handshake failed") <= before && Date() < deadline { usleep(50_000) }
        XCTAssertGreaterThan(count(relay.process.output, "TLS handshake failed"), before, relay.process.output)
        XCTAssertFalse(other.output.contains("connected to relay"), other.output)
        XCTAssertFalse(none.output.contains("connected to relay"), none.output)
        // Still serving, through the good agent only.
        XCTAssertEqual(try h.curl(["-H", "Host: app.test", "http://127.0.0.1:\(relay.publicPort)/"]).output, origin.body)
    }

    /// The same in GOST's forms: the relay's `tunnel+tls` listener with `caFile`, the agent's
    /// tunnel node with `certFile`/`keyFile` (an agent without them is refused).
    func testMutualTLSInGOSTForms() throws {
        let dir = h.tempFile("ca")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertEqual(try h.run("/bin/bash", [h.root.appendingPathComponent("Tests/Support/make_test_ca.sh").path, dir.path, "localhost"]).status, 0)
        XCTAssertEqual(try h.run("/bin/bash", [h.root.appendingPathComponent("Tests/Support/make_client_cert.sh").path, dir.path, "agent"]).status, 0)
        let id = "4d21094e-b74c-4916-86c1-d9fa36ea677b"
        let ca = dir.appendingPathComponent("ca.pem").path
        let relay = try h.server(["-L", "tunnel+tls://127.0.0.1:0?entrypoint=127.0.0.1:0&tunnel=app.test:\(id)&caFile=\(ca)"])
        let agentPort = try relay.port(ofService: "cli-0")
        let publicPort = try relay.port(ofService: "cli-0-entrypoint")
        let origin = try h.origin()
        let cert = dir.appendingPathComponent("agent.pem").path
        let key = dir.appendingPathComponent("agent.key").path
        let good = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin.port)", "-F", "tunnel+tls://127.0.0.1:\(agentPort)?tunnel.id=\(id)&certFile=\(cert)&keyFile=\(key)"])
        _ = try good.wait(for: "connected to relay")
        XCTAssertEqual(try h.curl(["-H", "Host: app.test", "http://127.0.0.1:\(publicPort)/"]).output, origin.body)
        let none = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin.port)", "-F", "tunnel+tls://127.0.0.1:\(agentPort)?tunnel.id=\(id)"])
        _ = try none.wait(for: "the relay refused the TLS connection")
        XCTAssertFalse(none.output.contains("connected to relay"), none.output)
    }
}
