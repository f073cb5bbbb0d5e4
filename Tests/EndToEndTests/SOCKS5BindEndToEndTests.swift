import Foundation
import XCTest

/// GOST's remote port forwarding through a SOCKS5 node with `bind=true`: the relay binary serves
/// `socks5://…?bind=true&udp=true`, the agent runs the seed's rtcp/rudp YAML (or the flag form),
/// and the two talk through the private mux-bind commands (docs/tunnel.md). Real processes on
/// loopback; every wait bounded.
final class SOCKS5BindEndToEndTests: EndToEndTestCase {
    /// A relay whose only service is the given socks5 `-L`; returns it and the port it listens on.
    func startRelay(_ listen: String, extra: [String] = []) throws -> (Harness.Running, Int) {
        let r = try h.server(["--state-dir", h.tempFile("state").path, "--agent-addr", "127.0.0.1:0", "-L", listen] + extra)
        return (r, try r.port(ofService: "cli-0"))
    }

    /// The seed's example from deploy/examples with only its addresses changed.
    func seedExample(_ file: String, port: Int, target: Int, relay: Int) throws -> URL {
        var yaml = try String(contentsOf: h.root.appendingPathComponent("deploy/examples/\(file)"), encoding: .utf8)
        for (from, to) in [("addr: :2222\n", "addr: :\(port)\n"), ("addr: :10053\n", "addr: :\(port)\n"),
                           ("addr: :22\n", "addr: 127.0.0.1:\(target)\n"), ("addr: :53\n", "addr: 127.0.0.1:\(target)\n"),
                           ("addr: 192.168.1.2:1080\n", "addr: 127.0.0.1:\(relay)\n")] {
            yaml = yaml.replacingOccurrences(of: from, with: to)
        }
        return h.tempFile("seed.yaml", contents: yaml)
    }

    /// Whether something accepts TCP connections on `port` (bounded).
    func accepts(_ port: Int) throws -> Bool {
        let r = try h.run("/usr/bin/env", ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), timeout=3)"], timeout: 10)
        return r.status == 0
    }

    func testSeedRTCPThroughSOCKS5Bind64MiB() throws {
        let echo = try h.echo("tcp")
        let (relay, relayPort) = try startRelay("socks5://127.0.0.1:0?bind=true&udp=true")
        let port = try freePort()
        let agent = try h.agent(["-C", try seedExample("06-rtcp-socks5-bind.yaml", port: port, target: echo, relay: relayPort).path])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.wait(for: "port=tcp/\(port) .*remote port open")
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(64 << 20)", "120"], timeout: 180)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 67108864 67108864"), r.output)
        // Garbage instead of a Mux session after a mux-bind closes that connection only; the
        // running agent's port keeps working.
        let bad = try h.runPython("bad_input.py", ["socks5muxbind", "127.0.0.1", "\(relayPort)", "\(port)"], timeout: 30)
        XCTAssertTrue(bad.output.contains("REPLY 0") && bad.output.contains("CLOSED"), bad.output)
        let again = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(1 << 20)"])
        XCTAssertTrue(again.output.hasPrefix("OK"), again.output)
        XCTAssertTrue(relay.process.isRunning)
    }

    func testSeedRUDPThroughSOCKS5Bind1000Datagrams() throws {
        let echo = try h.echo("udp")
        let (relay, relayPort) = try startRelay("socks5://127.0.0.1:0?bind=true&udp=true")
        let port = try freePort()
        let agent = try h.agent(["-C", try seedExample("07-rudp-socks5-bind.yaml", port: port, target: echo, relay: relayPort).path])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.wait(for: "port=udp/\(port) .*remote port open")
        let r = try h.runPython("udp_check.py", ["127.0.0.1", "\(port)", "1000"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 1000"), r.output)
    }

    /// The flag form with RFC 1929 credentials; a wrong password and a port outside the relay's
    /// range are refused (the agent says why, the relay logs the precise reason), nothing opens.
    func testFlagFormWithAuthAndRefusals() throws {
        let echo = try h.echo("tcp")
        let udpEcho = try h.echo("udp")
        let (relay, relayPort) = try startRelay("socks5://alice:s3cret@127.0.0.1:0?bind=true&udp=true", extra: ["--ports", "1024-65535"])
        let port = try freePort()
        let udpPort = try freePort()
        let agent = try h.agent(["-L", "rtcp://:\(port)/127.0.0.1:\(echo)", "-L", "rudp://:\(udpPort)/127.0.0.1:\(udpEcho)",
            "-F", "socks5://alice:s3cret@127.0.0.1:\(relayPort)"])
        _ = try relay.wait(for: "port=tcp/\(port) .*remote port open")
        _ = try relay.wait(for: "port=udp/\(udpPort) .*remote port open")
        var t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(4 << 20)"])
        for _ in 0..<20 where !t.output.hasPrefix("OK") {
            // The port opens just before the agent's registration completes.
            usleep(100_000)
            t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(4 << 20)"])
        }
        XCTAssertTrue(t.output.hasPrefix("OK"), t.output + agent.output)
        let u = try h.runPython("udp_check.py", ["127.0.0.1", "\(udpPort)", "100"])
        XCTAssertTrue(u.output.hasPrefix("OK 100"), u.output)

        let wrongPort = try freePort()
        let wrong = try h.agent(["-L", "rtcp://:\(wrongPort)/127.0.0.1:\(echo)", "-F", "socks5://alice:wrong@127.0.0.1:\(relayPort)"])
        _ = try wrong.wait(for: "refused the username/password of user \"alice\".* cannot attach to relay")
        _ = try relay.wait(for: "SOCKS5 authentication failed for user \"alice\"")
        XCTAssertFalse(try accepts(wrongPort), "the port of a refused agent must stay closed")

        let low = try h.agent(["-L", "rtcp://:80/127.0.0.1:\(echo)", "-F", "socks5://alice:s3cret@127.0.0.1:\(relayPort)"])
        _ = try low.wait(for: "refused to bind tcp port 80: not allowed by ruleset")
        _ = try relay.wait(for: "mux-bind of tcp port 80 refused for user \"alice\": .*port 80 is outside 1024-65535")
        XCTAssertTrue(relay.process.isRunning)
    }

    /// `bind` is off by default: the private commands get "command not supported" and the agent
    /// says what to change; plain SOCKS5 keeps working.
    func testBindOffRefuses() throws {
        let (relay, relayPort) = try startRelay("socks5://127.0.0.1:0")
        let port = try freePort()
        let agent = try h.agent(["-L", "rtcp://:\(port)/127.0.0.1:9", "-F", "socks5://127.0.0.1:\(relayPort)"])
        _ = try agent.wait(for: "refused to bind tcp port \(port): command not supported \\(is bind=true set")
        _ = try relay.wait(for: "mux-bind of tcp port \(port) refused: bind is off")
        XCTAssertFalse(try accepts(port))
        // udp=false refuses the UDP command even with bind=true.
        let (noUDP, noUDPPort) = try startRelay("socks5://127.0.0.1:0?bind=true&udp=false")
        let udpAgent = try h.agent(["-L", "rudp://:\(port)/127.0.0.1:9", "-F", "socks5://127.0.0.1:\(noUDPPort)"])
        _ = try udpAgent.wait(for: "refused to bind udp port \(port): command not supported")
        _ = try noUDP.wait(for: "mux-bind of udp port \(port) refused: udp is off")
        // CONNECT through the same service still works.
        let origin = try h.origin()
        let r = try h.curl(["--socks5", "127.0.0.1:\(relayPort)", "http://127.0.0.1:\(origin.port)/"])
        XCTAssertEqual(r.output, origin.body)
    }

    /// A port bound by one SOCKS5 user is refused to another (0x02, logged), and keeps working for
    /// its holder.
    func testPortHeldByAnotherUserIsRefused() throws {
        let yaml = """
            services:
            - name: socks
              addr: 127.0.0.1:0
              handler:
                type: socks5
                auths:
                - {username: alice, password: a1}
                - {username: bob, password: b2}
                metadata: {bind: true}
              listener: {type: tcp}

            """
        let relay = try h.server(["--state-dir", h.tempFile("state").path, "-C", h.tempFile("relay.yaml", contents: yaml).path])
        let relayPort = try relay.port(ofService: "socks")
        let echo = try h.echo("tcp")
        let port = try freePort()
        let alice = try h.agent(["-L", "rtcp://:\(port)/127.0.0.1:\(echo)", "-F", "socks5://alice:a1@127.0.0.1:\(relayPort)"])
        _ = try alice.wait(for: "connected to relay")
        let bob = try h.agent(["-L", "rtcp://:\(port)/127.0.0.1:\(echo)", "-F", "socks5://bob:b2@127.0.0.1:\(relayPort)"])
        _ = try bob.wait(for: "refused to bind tcp port \(port): not allowed by ruleset")
        _ = try relay.wait(for: "mux-bind of tcp port \(port) refused for user \"bob\": the port is bound by another user")
        let t = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(1 << 20)"])
        XCTAssertTrue(t.output.hasPrefix("OK"), t.output)
    }
}
