import Foundation
import XCTest

/// Agents that cannot dial the relay directly: through an HTTP proxy (Debian's tinyproxy, with
/// and without Basic auth), and over WebSocket (nginx as a WebSocket-passing reverse proxy, plain
/// and with TLS; and the relay's own HTTPS port). Each test carries a download and an upload
/// through the tunnel, byte-exact by SHA-256. The binaries are started on loopback with generated
/// configs; a missing binary fails the test (`.ci/run` installs both).
final class AgentTransportEndToEndTests: EndToEndTestCase {
    static let hostname = "app.transport.test"

    // MARK: helpers

    func binary(_ name: String, in dirs: [String] = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]) throws -> String {
        for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        // Never skipped: `.ci/run` installs it, and a missing peer must fail loudly, not pass quietly.
        throw HarnessError("\(name) is not installed (Debian package \(name); `.ci/run` installs it)")
    }

    /// tinyproxy on a free loopback port, with `BasicAuth user pass` when `auth` is given.
    func startTinyproxy(auth: (String, String)? = nil) throws -> (port: Int, log: URL) {
        let exe = try binary("tinyproxy")
        let dir = h.tempFile("tinyproxy")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = try freePort()
        let log = dir.appendingPathComponent("tinyproxy.log")
        var conf = """
            Port \(port)
            Listen 127.0.0.1
            Timeout 600
            MaxClients 50
            LogFile "\(log.path)"
            LogLevel Connect
            PidFile "\(dir.appendingPathComponent("tinyproxy.pid").path)"
            Allow 127.0.0.1

            """
        if let auth { conf += "BasicAuth \(auth.0) \(auth.1)\n" }
        let confFile = dir.appendingPathComponent("tinyproxy.conf")
        try conf.write(to: confFile, atomically: true, encoding: .utf8)
        let proxy = try h.start(exe, ["-d", "-c", confFile.path])
        try waitForPort(port, process: proxy)
        return (port, log)
    }

    /// nginx (non-root, everything in a temp dir) passing WebSockets on to `upstreamPort`; with
    /// `tls` it listens with that certificate.
    func startNginx(upstreamPort: Int, tls: (cert: String, key: String)? = nil) throws -> Int {
        let exe = try binary("nginx")
        let dir = h.tempFile("nginx")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let port = try freePort()
        let listen = tls == nil ? "listen 127.0.0.1:\(port);" : """
            listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(tls!.cert);
                    ssl_certificate_key \(tls!.key);
            """
        let d = dir.path
        let conf = """
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/logs/error.log info;
            events { worker_connections 256; }
            http {
                access_log \(d)/logs/access.log;
                client_body_temp_path \(d)/client_body;
                proxy_temp_path \(d)/proxy;
                fastcgi_temp_path \(d)/fastcgi;
                uwsgi_temp_path \(d)/uwsgi;
                scgi_temp_path \(d)/scgi;
                map $http_upgrade $connection_upgrade { default upgrade; '' close; }
                server {
                    \(listen)
                    location / {
                        proxy_pass http://127.0.0.1:\(upstreamPort);
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_read_timeout 600s;
                        proxy_buffering off;
                    }
                }
            }

            """
        let confFile = dir.appendingPathComponent("nginx.conf")
        try conf.write(to: confFile, atomically: true, encoding: .utf8)
        let nginx = try h.start(exe, ["-c", confFile.path, "-p", d, "-e", "\(d)/logs/error.log", "-g", "daemon off;"])
        try waitForPort(port, process: nginx)
        return port
    }

    /// Bounded wait until something accepts on `port` (or the process has died).
    func waitForPort(_ port: Int, process: Harness.Running) throws {
        for _ in 0..<200 {
            guard process.process.isRunning else { throw HarnessError("process exited before listening:\n\(process.output)") }
            let probe = try h.run("/usr/bin/env", ["python3", "-c", "import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', \(port)), 0.5).close()\nexcept OSError: sys.exit(1)"])
            if probe.status == 0 { return }
            usleep(50_000)
        }
        throw HarnessError("nothing listens on \(port):\n\(process.output)")
    }

    /// An origin (http_origin.py) for the test's hostname.
    func startOrigin() throws -> Int {
        let origin = try h.python("http_origin.py", ["transport"])
        return Int(try origin.wait(for: "PORT (\\d+)"))!
    }

    /// A download and an upload through the relay's public port to the agent's origin, each
    /// checked byte for byte by SHA-256.
    func assertTransfers(_ relay: Relay, size: Int = 8 * 1024 * 1024, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = "http://127.0.0.1:\(relay.publicPort)"
        let dir = h.tempFile("transfer")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let d = dir.path
        let host = Self.hostname
        let down = try h.run("/bin/bash", ["-c", "curl -sS -m 60 -H 'Host: \(host)' -D \(d)/h -o \(d)/b \(url)/blob/\(size) && sha256sum \(d)/b && grep -i '^x-sha256:' \(d)/h"], timeout: 90)
        XCTAssertEqual(down.status, 0, down.output, file: file, line: line)
        let lines = down.output.split(separator: "\n").map(String.init)
        let got = lines.first?.split(separator: " ").first.map(String.init)
        let expected = lines.last?.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(got, down.output, file: file, line: line)
        XCTAssertEqual(got, expected, "download through the tunnel is not byte-exact: \(down.output)", file: file, line: line)

        let up = try h.run("/bin/bash", ["-c", "head -c \(size) /dev/urandom > \(d)/u && sha256sum \(d)/u && curl -sS -m 60 -H 'Host: \(host)' --data-binary @\(d)/u \(url)/sha"], timeout: 90)
        XCTAssertEqual(up.status, 0, up.output, file: file, line: line)
        let sent = up.output.split(separator: " ").first.map(String.init) ?? "?"
        XCTAssertTrue(up.output.contains("\"sha256\": \"\(sent)\"") || up.output.contains("\"sha256\":\"\(sent)\""), "upload through the tunnel is not byte-exact: \(up.output)", file: file, line: line)
        XCTAssertTrue(up.output.contains("\(size)"), up.output, file: file, line: line)
    }

    func exposeArgs(_ relay: Relay, originPort: Int) -> [String] {
        ["--token", relay.token, "--pin", relay.pin, "--expose", "127.0.0.1:\(originPort)", "--hostname", Self.hostname]
    }

    // MARK: through an HTTP proxy

    func testAgentThroughTinyproxy() throws {
        let proxy = try startTinyproxy()
        let relay = try startRelay()
        let origin = try startOrigin()
        let agent = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "-F", "http://127.0.0.1:\(proxy.port)"] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay)
        // It really went through the proxy.
        let log = (try? String(contentsOf: proxy.log, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("CONNECT"), log)
    }

    func testAgentThroughTinyproxyWithBasicAuth() throws {
        let proxy = try startTinyproxy(auth: ("user", "s3cret"))
        let relay = try startRelay()
        let origin = try startOrigin()
        // A wrong password: the agent says the proxy refused it, and never attaches.
        let wrong = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "-F", "http://user:wrong@127.0.0.1:\(proxy.port)"] + exposeArgs(relay, originPort: origin))
        // (tinyproxy answers a CONNECT with a bad password 401, not 407.)
        _ = try wrong.wait(for: "HTTP proxy refused CONNECT [^ ]+: 40[17] [A-Za-z ]+\\(the proxy refused this user and password\\)")
        XCTAssertFalse(wrong.output.contains("connected to relay"), wrong.output)
        wrong.process.terminate()
        // No credentials at all: the agent says the proxy wants some.
        let none = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "-F", "http://127.0.0.1:\(proxy.port)"] + exposeArgs(relay, originPort: origin))
        _ = try none.wait(for: "the proxy wants a user and password")
        none.process.terminate()

        let agent = try h.agent(["--relay", "127.0.0.1:\(relay.agentPort)", "-F", "http://user:s3cret@127.0.0.1:\(proxy.port)"] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay)
    }

    /// A YAML chain of two hops, named with `--relay-chain`: a SOCKS5 proxy with RFC 1929
    /// credentials (the engine's own), then tinyproxy, then the relay.
    func testAgentThroughAYAMLChainOfTwoProxies() throws {
        let proxy = try startTinyproxy()
        let socks = try h.server(["-L", "socks5://u:p@127.0.0.1:0"])
        let socksPort = try socks.port(ofService: "cli-0")
        let relay = try startRelay()
        let origin = try startOrigin()
        let yaml = h.tempFile("chain.yaml", contents: """
            chains:
            - name: corp
              hops:
              - name: socks
                nodes:
                - name: socks
                  addr: 127.0.0.1:\(socksPort)
                  connector: {type: socks5, auth: {username: u, password: p}}
                  dialer: {type: tcp}
              - name: web-proxy
                nodes:
                - name: tinyproxy
                  addr: 127.0.0.1:\(proxy.port)
                  connector: {type: http}
                  dialer: {type: tcp}

            """)
        let agent = try h.agent(["-C", yaml.path, "--relay-chain", "corp", "--relay", "127.0.0.1:\(relay.agentPort)"] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay, size: 2 * 1024 * 1024)
        let log = (try? String(contentsOf: proxy.log, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("CONNECT"), log)
        // A chain name the file does not have is a clear start-up error.
        let missing = try h.agent(["-C", yaml.path, "--relay-chain", "nope", "--relay", "127.0.0.1:\(relay.agentPort)"] + exposeArgs(relay, originPort: origin))
        _ = try missing.wait(for: "no chain named \"nope\"")
    }

    /// The GOST form through a proxy: `-F http://proxy -F tunnel+tls://relay?…`, the hops before
    /// the relay's node being the way there.
    func testGOSTTunnelNodeThroughTinyproxy() throws {
        let proxy = try startTinyproxy(auth: ("user", "pw"))
        let relay = try startRelay()
        let origin = try startOrigin()
        let id = "5b0e2a4c-1d7e-4f0a-8c3b-2e9f6a7d1c55"
        let agent = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin)", "-F", "http://user:pw@127.0.0.1:\(proxy.port)",
                                 "-F", "tunnel+tls://127.0.0.1:\(relay.agentPort)?tunnel.id=\(id)&hostnames=\(Self.hostname)&pin=\(relay.pin)&token=\(relay.token)"])
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay, size: 2 * 1024 * 1024)
        let log = (try? String(contentsOf: proxy.log, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("CONNECT"), log)
    }

    // MARK: over WebSocket

    func testAgentOverWebSocketThroughNginx() throws {
        let relay = try startRelay()
        let nginx = try startNginx(upstreamPort: relay.publicPort)
        let origin = try startOrigin()
        let agent = try h.agent(["--relay", "ws://127.0.0.1:\(nginx)/_tunnel/agent"] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay)
        // The same through nginx for a visitor, while the agent's WebSocket carries the tunnel.
        let page = try h.curl(["-H", "Host: \(Self.hostname)", "http://127.0.0.1:\(nginx)/info"])
        XCTAssertTrue(page.output.contains("transport"), page.output)
        // On a kept-alive connection (a proxy's pooled upstream connection), after a visitor's
        // request is answered, an agent's upgrade still takes the connection.
        let reuse = try h.run("/usr/bin/env", ["python3", "-c", """
            import socket
            s = socket.create_connection(("127.0.0.1", \(relay.publicPort)), 10)
            s.sendall(b"GET /info HTTP/1.1\\r\\nHost: \(Self.hostname)\\r\\n\\r\\n")
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                data += s.recv(4096)
            head, body = data.split(b"\\r\\n\\r\\n", 1)
            length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")][0])
            while len(body) < length:
                body += s.recv(4096)
            print(head.split(b"\\r\\n")[0].decode())
            s.sendall(b"GET /_tunnel/agent HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n")
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                d = s.recv(4096)
                if not d: break
                data += d
            print(data.split(b"\\r\\n")[0].decode())
            """], timeout: 30)
        XCTAssertEqual(reuse.output.split(separator: "\n").map(String.init), ["HTTP/1.1 200 OK", "HTTP/1.1 101 Switching Protocols"], reuse.output)
        // A wrong path is answered by the relay's ingress (no rule for that Host), not taken.
        let bad = try h.agent(["--relay", "ws://127.0.0.1:\(nginx)/elsewhere"] + exposeArgs(relay, originPort: origin))
        _ = try bad.wait(for: "answered the WebSocket upgrade with 404")
        XCTAssertFalse(bad.output.contains("connected to relay"), bad.output)
    }

    /// A remote TCP port carried over the WebSocket: 32 MiB echoed back byte-exact with
    /// half-close, and a target that sends 8 MiB and closes while its client is not reading yet
    /// (every buffer on the way fills: the WebSocket adapter must pass backpressure, lose nothing).
    func testRemotePortOverWebSocketIsByteExactUnderBackpressure() throws {
        let relay = try startRelay()
        let nginx = try startNginx(upstreamPort: relay.publicPort)
        let echo = try h.echo("tcp")
        let port = try freePort()
        let agent = try h.agent(["--relay", "ws://127.0.0.1:\(nginx)/_tunnel/agent", "--token", relay.token, "--pin", relay.pin,
                                 "--expose", "127.0.0.1:\(echo)", "--remote-port", "\(port)"])
        _ = try agent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port) .*remote port open")
        // 32 MiB: a debug build masks client frames byte by byte (swift-nio's masking is fast only
        // when optimised), so this is the slowest path of the suite.
        let r = try h.runPython("tcp_transfer.py", ["127.0.0.1", "\(port)", "\(32 << 20)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("OK 33554432 33554432"), r.output)

        let blast = try h.python("blast_server.py", ["\(8 << 20)"])
        let bp = Int(try blast.wait(for: "PORT (\\d+)"))!
        let sha = try blast.wait(for: "SHA ([0-9a-f]+)")
        let port2 = try freePort()
        let blastAgent = try h.agent(["--relay", "ws://127.0.0.1:\(nginx)/_tunnel/agent", "--token", relay.token, "--pin", relay.pin,
                                      "--expose", "127.0.0.1:\(bp)", "--remote-port", "\(port2)"])
        _ = try blastAgent.wait(for: "connected to relay")
        _ = try relay.process.wait(for: "port=tcp/\(port2) .*remote port open")
        XCTAssertEqual(try h.runPython("slow_reader.py", ["127.0.0.1", "\(port2)"]).output, "OK \(8 << 20) \(sha)\n")
    }

    func testAgentOverSecureWebSocketThroughAProxyAndNginx() throws {
        let ca = try makeCA(["localhost"])
        let relay = try startRelay()
        let nginx = try startNginx(upstreamPort: relay.publicPort, tls: (ca.cert, ca.key))
        let origin = try startOrigin()
        // Without trusting the test CA the outer HTTPS is refused.
        let untrusted = try h.agent(["--relay", "wss://localhost:\(nginx)/_tunnel/agent"] + exposeArgs(relay, originPort: origin))
        _ = try untrusted.wait(for: "cannot attach to relay")
        XCTAssertFalse(untrusted.output.contains("connected to relay"), untrusted.output)
        untrusted.process.terminate()

        // Through an HTTP proxy too (the network that allows only a proxy to HTTPS sites): the
        // chain, then the outer TLS, the WebSocket, and the agent's own TLS inside.
        let proxy = try startTinyproxy()
        let agent = try h.agent(["--relay", "wss://localhost:\(nginx)/_tunnel/agent", "--wss-ca", ca.ca, "-F", "http://127.0.0.1:\(proxy.port)"]
                                + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay)
        let log = (try? String(contentsOf: proxy.log, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("CONNECT"), log)
    }

    /// The relay restarts (same state, same port) behind nginx: the agent's WebSocket session ends
    /// with the relay's GOAWAY and close frame, and the agent attaches again over a new one.
    func testWebSocketAgentReattachesAfterARelayRestart() throws {
        let publicPort = try freePort()
        let relay = try startRelay(publicPort: publicPort)
        let nginx = try startNginx(upstreamPort: publicPort)
        let origin = try startOrigin()
        let agent = try h.agent(["--relay", "ws://127.0.0.1:\(nginx)/_tunnel/agent", "--sessions", "1"] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay, size: 1024 * 1024)
        relay.process.process.terminate()
        relay.process.process.waitUntilExit()
        XCTAssertEqual(relay.process.process.terminationStatus, 0, relay.process.output)
        let again = try startRelay(stateDir: relay.stateDir, publicPort: publicPort)
        _ = try agent.wait(for: "(?s)connected to relay.*connected to relay", timeout: 40)
        try assertTransfers(again, size: 1024 * 1024)
    }

    /// The GOST form: an rtcp service whose chain ends at a `tunnel+ws` node behind nginx.
    func testGOSTTunnelNodeOverWebSocket() throws {
        let relay = try startRelay()
        let nginx = try startNginx(upstreamPort: relay.publicPort)
        let origin = try startOrigin()
        let id = "0e6f7b7a-5d0e-4b8e-9a77-6c1f3f1e2a11"
        let agent = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin)",
                                 "-F", "tunnel+ws://127.0.0.1:\(nginx)?path=/_tunnel/agent&tunnel.id=\(id)&hostnames=\(Self.hostname)&pin=\(relay.pin)&token=\(relay.token)"])
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay, size: 2 * 1024 * 1024)
    }

    /// The GOST form over HTTPS: a `tunnel+wss` node with `wss.caFile` for nginx's certificate.
    func testGOSTTunnelNodeOverSecureWebSocket() throws {
        let ca = try makeCA(["localhost"])
        let relay = try startRelay()
        let nginx = try startNginx(upstreamPort: relay.publicPort, tls: (ca.cert, ca.key))
        let origin = try startOrigin()
        let id = "2f4e6a8c-0b1d-4e3f-9a5b-7c9d1e3f5a70"
        let agent = try h.agent(["-L", "rtcp://:0/127.0.0.1:\(origin)",
                                 "-F", "tunnel+wss://localhost:\(nginx)?wss.caFile=\(ca.ca)&tunnel.id=\(id)&hostnames=\(Self.hostname)&pin=\(relay.pin)&token=\(relay.token)"])
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay, size: 2 * 1024 * 1024)
    }

    /// wss straight to the relay's HTTPS port (TLS terminated by the relay for its own name);
    /// a tunnel's own page at the agent path stays the tunnel's.
    func testAgentOverWebSocketOnTheRelaysHTTPSPort() throws {
        let ca = try makeCA(["localhost"])
        let httpsPort = try freePort()
        let relay = try startRelay(["--https-addr", "127.0.0.1:\(httpsPort)", "--tls-cert", ca.cert, "--tls-key", ca.key, "--http-head-timeout", "2s"])
        let origin = try startOrigin()
        let agent = try h.agent(["--relay", "wss://localhost:\(httpsPort)", "--wss-ca", ca.ca] + exposeArgs(relay, originPort: origin))
        _ = try agent.wait(for: "connected to relay")
        try assertTransfers(relay)
        // Host names a tunnel: `/_tunnel/agent` is that tunnel's path (the origin answers it).
        let shadow = try h.curl(["-D", "-", "-H", "Host: \(Self.hostname)", "-H", "Upgrade: websocket", "-H", "Connection: Upgrade",
                                 "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                 "http://127.0.0.1:\(relay.publicPort)/_tunnel/agent"])
        XCTAssertFalse(shadow.output.contains("101 Switching Protocols"), shadow.output)
        XCTAssertTrue(shadow.output.contains("BaseHTTP"), shadow.output)
        // The relay's own: a handshake without a valid key is refused with a reason.
        let badKey = try h.curl(["-D", "-", "-H", "Upgrade: websocket", "-H", "Connection: Upgrade", "-H", "Sec-WebSocket-Version: 13",
                                 "-H", "Sec-WebSocket-Key: short", "http://127.0.0.1:\(relay.publicPort)/_tunnel/agent"])
        XCTAssertTrue(badKey.output.contains("400 Bad Request"), badKey.output)
        XCTAssertTrue(badKey.output.contains("Sec-WebSocket-Key"), badKey.output)
        // An agent-path head that never completes is answered 408 after the head timeout, as any head.
        let slow = try h.run("/usr/bin/env", ["python3", "-c", """
            import socket
            s = socket.create_connection(("127.0.0.1", \(relay.publicPort)), 10)
            s.sendall(b"GET /_tunnel/agent HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: web")
            data = b""
            while True:
                d = s.recv(4096)
                if not d: break
                data += d
            print(data.split(b"\\r\\n")[0].decode())
            """], timeout: 30)
        XCTAssertEqual(slow.output.trimmingCharacters(in: .whitespacesAndNewlines), "HTTP/1.1 408 Request Timeout")
    }

}
