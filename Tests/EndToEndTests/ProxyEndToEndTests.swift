import Foundation
import XCTest

/// Real binaries, real clients (curl, Python sockets), loopback only.
final class ProxyEndToEndTests: EndToEndTestCase {
    func testHTTPProxyWithCurl() throws {
        let origin = try h.origin()
        let agent = try h.agent(["-L", "http://127.0.0.1:0"])
        let port = try agent.port(ofService: "cli-0")
        let r = try h.curl(["-x", "http://127.0.0.1:\(port)", "http://127.0.0.1:\(origin.port)/"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output, origin.body)
        // CONNECT (curl -p tunnels through the proxy) and keep-alive: two requests, one connection.
        let tunnel = try h.curl(["-p", "-x", "http://127.0.0.1:\(port)", "http://localhost:\(origin.port)/"])
        XCTAssertEqual(tunnel.output, origin.body)
        let twice = try h.curl(["-v", "-x", "http://127.0.0.1:\(port)", "http://127.0.0.1:\(origin.port)/", "http://127.0.0.1:\(origin.port)/index.html"])
        XCTAssertEqual(twice.output.components(separatedBy: origin.body).count, 3, twice.output)
        XCTAssertTrue(twice.output.contains("Re-using existing connection") || twice.output.contains("Reusing existing"), twice.output)
    }

    /// Clients that close a kept-alive connection while it is idle between requests take it, and
    /// the origin connection kept for it, with them: 1,000 of them leave the proxy's descriptor
    /// count where it was. (The listener allows half-close, so a client's FIN arrives as end of
    /// input, not as a closed channel; before the fix nothing answered it and both sockets stayed.)
    func testHTTPProxyReleasesKeepAliveConnectionsClosedByClients() throws {
        let origin = try h.python("http_origin.py", ["origin", "300"])
        let originPort = try origin.wait(for: "PORT (\\d+)")
        let proxy = try h.agent(["-L", "http://127.0.0.1:0"])
        let port = try proxy.port(ofService: "cli-0")
        let clients = ["127.0.0.1", "\(port)", originPort]
        // Warm-up: the first connections set up what the process keeps anyway (loops, thread pool).
        XCTAssertEqual(try h.runPython("http_keepalive_clients.py", clients + ["20"]).output, "OK 20\n")
        usleep(500_000)
        let baseline = try proxy.openFileDescriptors()
        let r = try h.runPython("http_keepalive_clients.py", clients + ["1000"])
        XCTAssertEqual(r.output, "OK 1000\n")
        let after = try proxy.waitForFileDescriptors(atMost: baseline + 10)
        XCTAssertLessThanOrEqual(after, baseline + 10, "descriptors: \(baseline) before 1,000 clients, \(after) after")
        // And the proxy still serves.
        XCTAssertEqual(try h.runPython("http_keepalive_clients.py", clients + ["1"]).output, "OK 1\n")
    }

    func testHTTPProxyAuthentication() throws {
        let origin = try h.origin()
        let agent = try h.agent(["-L", "http://alice:s3cret@127.0.0.1:0"])
        let port = try agent.port(ofService: "cli-0")
        let ok = try h.curl(["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://alice:s3cret@127.0.0.1:\(port)", "http://127.0.0.1:\(origin.port)/"])
        XCTAssertEqual(ok.output, "200")
        let wrong = try h.curl(["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://alice:nope@127.0.0.1:\(port)", "http://127.0.0.1:\(origin.port)/"])
        XCTAssertEqual(wrong.output, "407")
        let none = try h.curl(["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(port)", "http://127.0.0.1:\(origin.port)/"])
        XCTAssertEqual(none.output, "407")
    }

    func testSOCKS5ProxyWithCurl() throws {
        let origin = try h.origin()
        let agent = try h.agent(["-L", "socks5://127.0.0.1:0", "-L", "socks5://bob:pw@127.0.0.1:0"])
        let open = try agent.port(ofService: "cli-0")
        let authed = try agent.port(ofService: "cli-1")
        let r = try h.curl(["--socks5-hostname", "127.0.0.1:\(open)", "http://localhost:\(origin.port)/"])
        XCTAssertEqual(r.output, origin.body)
        let good = try h.curl(["--socks5-hostname", "127.0.0.1:\(authed)", "--proxy-user", "bob:pw", "http://localhost:\(origin.port)/"])
        XCTAssertEqual(good.output, origin.body)
        let bad = try h.curl(["--socks5-hostname", "127.0.0.1:\(authed)", "--proxy-user", "bob:wrong", "http://localhost:\(origin.port)/"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertFalse(bad.output.contains(origin.body))
        // A connection refused by the target is reported as such (SOCKS5 reply 5), not as a hang.
        let refused = try h.curl(["--socks5-hostname", "127.0.0.1:\(open)", "http://127.0.0.1:1/"])
        XCTAssertNotEqual(refused.status, 0)
    }

    func testAutoHandlerServesHTTPSOCKS4AndSOCKS5() throws {
        let origin = try h.origin()
        let agent = try h.agent(["-L", "127.0.0.1:0"])
        let port = try agent.port(ofService: "cli-0")
        for proxy in ["http://127.0.0.1:\(port)", "socks5h://127.0.0.1:\(port)", "socks4a://127.0.0.1:\(port)", "socks4://127.0.0.1:\(port)"] {
            let r = try h.curl(["-x", proxy, "http://127.0.0.1:\(origin.port)/"])
            XCTAssertEqual(r.output, origin.body, proxy)
        }
    }

    /// The seed's multi-level chain: auto service -> http hop -> socks5 hop, our binaries as the hops,
    /// written as the seed's YAML with loopback addresses.
    func testSeedMultiLevelChainYAML() throws {
        let origin = try h.origin()
        let hop0 = try h.agent(["-L", "http://127.0.0.1:0"])
        let hop1 = try h.server(["-L", "socks5://127.0.0.1:0"])
        let p0 = try hop0.port(ofService: "cli-0")
        let p1 = try hop1.port(ofService: "cli-0")
        let yaml = """
            services:
            - name: service-0
              addr: "127.0.0.1:0"
              handler:
                type: auto
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: 127.0.0.1:\(p0)
                  connector:
                    type: http
                  dialer:
                    type: tcp
              - name: hop-1
                nodes:
                - name: node-0
                  addr: 127.0.0.1:\(p1)
                  connector:
                    type: socks5
                  dialer:
                    type: tcp
            """
        let file = h.tempFile("chain.yaml", contents: yaml)
        let front = try h.agent(["-C", file.path, "-D"])
        let port = try front.port(ofService: "service-0")
        for proxy in ["http://127.0.0.1:\(port)", "socks5h://127.0.0.1:\(port)"] {
            let r = try h.curl(["-x", proxy, "http://localhost:\(origin.port)/"])
            XCTAssertEqual(r.output, origin.body, "\(proxy): \(front.output)")
        }
        // The same chain from flags, as `gost -L :8080 -F http://... -F socks5://...`.
        let flags = try h.agent(["-L", "127.0.0.1:0", "-F", "http://127.0.0.1:\(p0)", "-F", "socks5://127.0.0.1:\(p1)"])
        let fp = try flags.port(ofService: "cli-0")
        XCTAssertEqual(try h.curl(["-x", "http://127.0.0.1:\(fp)", "http://localhost:\(origin.port)/"]).output, origin.body)
        // Both hops really carried it.
        XCTAssertTrue(hop0.output.isEmpty == false)
    }

    func testChainOverTLSDialerWithAuth() throws {
        let origin = try h.origin()
        let hop = try h.server(["-L", "socks5+tls://u:p@127.0.0.1:0"])
        let hp = try hop.port(ofService: "cli-0")
        let front = try h.agent(["-L", "http://127.0.0.1:0", "-F", "socks5+tls://u:p@127.0.0.1:\(hp)"])
        let port = try front.port(ofService: "cli-0")
        XCTAssertEqual(try h.curl(["-x", "http://127.0.0.1:\(port)", "http://localhost:\(origin.port)/"]).output, origin.body)
        let wrong = try h.agent(["-L", "http://127.0.0.1:0", "-F", "socks5+tls://u:bad@127.0.0.1:\(hp)"])
        let wp = try wrong.port(ofService: "cli-0")
        let r = try h.curl(["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(wp)", "http://localhost:\(origin.port)/"])
        XCTAssertEqual(r.output, "502")
    }

    func testTCPForward64MiBWithHalfClose() throws {
        let echo = try h.echo("tcp")
        let agent = try h.agent(["-L", "tcp://127.0.0.1:0/127.0.0.1:\(echo)"])
        let port = try agent.port(ofService: "cli-0")
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(64 << 20)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 67108864 67108864"), r.output)
    }

    /// The target sends 8 MiB and closes at once while the client is not reading: every byte still
    /// reaches the client, in order, before it sees the end.
    func testTCPForwardDeliversEverythingAfterTheTargetClosed() throws {
        let blast = try h.python("blast_server.py", ["\(8 << 20)"])
        let port = Int(try blast.wait(for: "PORT (\\d+)"))!
        let sha = try blast.wait(for: "SHA ([0-9a-f]+)")
        let agent = try h.agent(["-L", "tcp://127.0.0.1:0/127.0.0.1:\(port)"])
        let fp = try agent.port(ofService: "cli-0")
        for _ in 0..<2 {
            let r = try h.runPython("slow_reader.py", ["127.0.0.1", "\(fp)"])
            XCTAssertEqual(r.output, "OK \(8 << 20) \(sha)\n")
        }
    }

    func testTCPForwardFailsOverToLiveTarget() throws {
        let echo = try h.echo("tcp")
        // The first target refuses; fifo tries it first, marks it failed, and the second carries the bytes.
        let yaml = """
            services:
            - name: fwd
              addr: 127.0.0.1:0
              handler: {type: tcp}
              listener: {type: tcp}
              forwarder:
                selector: {strategy: fifo, maxFails: 1, failTimeout: 30s}
                nodes:
                - {name: dead, addr: "127.0.0.1:1"}
                - {name: live, addr: "127.0.0.1:\(echo)"}
            """
        let agent = try h.agent(["-C", h.tempFile("fwd.yaml", contents: yaml).path])
        let port = try agent.port(ofService: "fwd")
        for _ in 0..<3 {
            let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "100000"])
            XCTAssertEqual(r.status, 0, r.output)
        }
    }

    func testUDPForward1000Datagrams() throws {
        let echo = try h.echo("udp")
        let agent = try h.agent(["-L", "udp://127.0.0.1:0/127.0.0.1:\(echo)"])
        let port = try agent.port(ofService: "cli-0")
        let r = try h.runPython("udp_check.py", ["127.0.0.1", "\(port)", "1000"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 1000"), r.output)
    }

    /// `udp` forward through a chain whose node is a SOCKS5 server (ours): a UDP ASSOCIATE per client.
    func testUDPForwardThroughSOCKS5Chain() throws {
        let echo = try h.echo("udp")
        let socks = try h.server(["-L", "socks5://u:p@127.0.0.1:0"])
        let sp = try socks.port(ofService: "cli-0")
        let agent = try h.agent(["-L", "udp://127.0.0.1:0/127.0.0.1:\(echo)", "-F", "socks5://u:p@127.0.0.1:\(sp)"])
        let port = try agent.port(ofService: "cli-0")
        let r = try h.runPython("udp_check.py", ["127.0.0.1", "\(port)", "300"])
        XCTAssertEqual(r.status, 0, r.output + agent.output + socks.output)
        XCTAssertTrue(r.output.hasPrefix("OK 300"), r.output)
    }

    func testBadInputIsAnsweredAndOthersCarryOn() throws {
        let origin = try h.origin()
        let echo = try h.echo("tcp")
        let agent = try h.agent(["-L", "http://127.0.0.1:0", "-L", "socks5://127.0.0.1:0", "-L", "socks4://127.0.0.1:0", "-L", "127.0.0.1:0", "-L", "tcp://127.0.0.1:0/127.0.0.1:\(echo)"])
        let ports = try (0..<5).map { try agent.port(ofService: "cli-\($0)") }
        // A long transfer in flight while the garbage arrives must be unaffected.
        let bulk = try h.python("tcp_transfer.py", ["127.0.0.1", "\(ports[4])", "\(16 << 20)"])
        for port in ports.prefix(4) {
            for _ in 0..<5 {
                let r = try h.runPython("bad_input.py", ["garbage", "127.0.0.1", "\(port)"])
                XCTAssertEqual(r.status, 0, r.output)
                XCTAssertTrue(r.output.hasPrefix("CLOSED"), r.output)
            }
        }
        XCTAssertEqual(try h.runPython("bad_input.py", ["bigheader", "127.0.0.1", "\(ports[0])"]).output, "STATUS HTTP/1.1 431 Request Header Fields Too Large\n")
        XCTAssertEqual(try h.runPython("bad_input.py", ["bigheader", "127.0.0.1", "\(ports[3])"]).output, "STATUS HTTP/1.1 431 Request Header Fields Too Large\n")
        XCTAssertEqual(try h.runPython("bad_input.py", ["socks5bind", "127.0.0.1", "\(ports[1])"]).output, "REPLY 7\n")
        XCTAssertEqual(try h.runPython("bad_input.py", ["socks5atyp", "127.0.0.1", "\(ports[1])"]).output, "REPLY 8\n")
        XCTAssertTrue(agent.process.isRunning)
        XCTAssertEqual(try h.curl(["-x", "http://127.0.0.1:\(ports[0])", "http://127.0.0.1:\(origin.port)/"]).output, origin.body)
        XCTAssertEqual(try h.curl(["--socks5-hostname", "127.0.0.1:\(ports[1])", "http://localhost:\(origin.port)/"]).output, origin.body)
        let deadline = Date().addingTimeInterval(60)
        while bulk.process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(bulk.output.hasPrefix("OK"), bulk.output)
        XCTAssertTrue(agent.output.contains("SOCKS5 command 2 not supported"), agent.output)
    }
}
