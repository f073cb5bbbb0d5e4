import Crypto
import Foundation
import XCTest

/// Visitor policy at the relay, end to end: a relay configured with `ingresses` rules carrying
/// `policy:`, agents exposing Python origins (`http_origin.py`, which counts what it answers and
/// echoes the headers it got), curl as the visitor over HTTP, HTTPS and h2.
final class PolicyEndToEndTests: EndToEndTestCase {
    struct Setup {
        var relay: Harness.Running
        var publicPort: Int
        var agentPort: Int
        var ca: TestCA
    }

    /// A relay whose ingress rules are `rules` (YAML list items, indented as under `rules:`),
    /// terminating TLS for `*.policy.test`, and one agent per `(tunnel ID, origin port)`.
    func start(rules: String, agents: [(String, Int)]) throws -> Setup {
        let ca = try makeCA(["*.policy.test"])
        let yaml = """
            services:
            - name: agents
              addr: 127.0.0.1:0
              handler:
                type: tunnel
                metadata:
                  entrypoint: 127.0.0.1:0
                  ingress: ingress-0
              listener:
                type: tls
            ingresses:
            - name: ingress-0
              rules:
            \(rules)
            """
        let relay = try h.server(["-C", h.tempFile("relay.yaml", contents: yaml).path, "--tls-cert", ca.cert, "--tls-key", ca.key])
        let agentPort = try relay.port(ofService: "agents")
        let publicPort = try relay.port(ofService: "agents-entrypoint")
        for (id, port) in agents {
            let agent = try h.agent(["--relay", "127.0.0.1:\(agentPort)", "--tunnel-id", id, "--expose", "127.0.0.1:\(port)"])
            _ = try agent.wait(for: "connected to relay")
        }
        return Setup(relay: relay, publicPort: publicPort, agentPort: agentPort, ca: ca)
    }

    func origin(_ name: String) throws -> Int {
        Int(try h.python("http_origin.py", [name, "300"]).wait(for: "PORT (\\d+)"))!
    }

    /// curl to `host` on the relay's public port: `scheme` http, https (HTTP/1.1) or h2; prints the
    /// status code on the last line after the body (and the headers first with `-i`).
    func get(_ s: Setup, _ scheme: String, _ host: String, _ path: String, _ extra: [String] = []) throws -> (code: Int, body: String) {
        var args = ["-s", "-w", "\n%{http_code}", "--resolve", "\(host):\(s.publicPort):127.0.0.1"] + extra
        switch scheme {
        case "https": args += ["--http1.1", "--cacert", s.ca.ca, "https://\(host):\(s.publicPort)\(path)"]
        case "h2": args += ["--http2", "--cacert", s.ca.ca, "https://\(host):\(s.publicPort)\(path)"]
        default: args += ["http://\(host):\(s.publicPort)\(path)"]
        }
        let r = try h.curl(args)
        let lines = r.output.components(separatedBy: "\n")
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    func count(_ port: Int) throws -> Int {
        let r = try h.curl(["http://127.0.0.1:\(port)/count"])
        let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
        return json?["count"] as? Int ?? -1
    }

    func bcrypt(_ user: String, _ password: String) throws -> String {
        let r = try h.run("/usr/bin/env", ["htpasswd", "-nbBC", "4", user, password])
        XCTAssertEqual(r.status, 0, r.output)
        let line = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return String(line.drop { $0 != ":" }.dropFirst())
    }

    /// Basic auth (a bcrypt hash from `htpasswd -B`) over HTTP, HTTPS and h2: no credentials and
    /// wrong ones get 401 with `WWW-Authenticate` and never reach the origin (it counts what it
    /// answers); the right ones pass, and the origin does not see the `Authorization` header.
    func testBasicAuthOverHTTPHTTPSAndH2() throws {
        let web = try origin("web")
        let hash = try bcrypt("alice", "wonder land")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      basicAuth:
                        realm: staff
                        users:
                          alice: "\(hash)"
                """, agents: [("web", web)])
        var passed = 0
        for scheme in ["http", "https", "h2"] {
            let none = try get(s, scheme, "app.policy.test", "/info", ["-D", "-"])
            XCTAssertEqual(none.code, 401, "\(scheme): \(none.body)")
            XCTAssertTrue(none.body.lowercased().contains("www-authenticate: basic realm=\"staff\""), "\(scheme): \(none.body)")
            XCTAssertEqual(try get(s, scheme, "app.policy.test", "/info", ["-u", "alice:wrong"]).code, 401, scheme)
            XCTAssertEqual(try get(s, scheme, "app.policy.test", "/info", ["-u", "bob:wonder land"]).code, 401, scheme)
            // Twice: the second answer comes from the relay's cache of checked passwords.
            for _ in 0..<2 {
                let ok = try get(s, scheme, "app.policy.test", "/info", ["-u", "alice:wonder land"])
                XCTAssertEqual(ok.code, 200, "\(scheme): \(ok.body)")
                XCTAssertFalse(ok.body.contains("authorization"), "the origin saw the credentials: \(ok.body)")
                passed += 1
            }
        }
        XCTAssertEqual(try count(web), passed, "refused requests must never reach the origin")
        XCTAssertTrue(s.relay.output.contains("reason=bad_password"), s.relay.output)
        XCTAssertTrue(s.relay.output.contains("reason=no_credentials"), s.relay.output)
    }

    /// An IP deny list on the layer-4 source: 127.0.0.2 is refused (403 on HTTP, an alert on a TLS
    /// passthrough), 127.0.0.1 passes; `X-Forwarded-For` sent by the client changes nothing.
    func testIPDenyOnHTTPAndOnTLSPassthrough() throws {
        let web = try origin("web")
        let tlsCA = try makeCA(["pass.policy.test"])
        let tls = try h.python("tls_server.py", [tlsCA.cert, tlsCA.key])
        let tlsPort = Int(try tls.wait(for: "PORT (\\d+)"))!
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      deny: ["127.0.0.2/32", "2001:db8::/32"]
                  - hostname: pass.policy.test
                    endpoint: pass
                    tls: passthrough
                    policy:
                      allow: ["127.0.0.1"]
                """, agents: [("web", web), ("pass", tlsPort)])
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info").code, 200)
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["--interface", "127.0.0.2"]).code, 403)
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["--interface", "127.0.0.2", "-H", "X-Forwarded-For: 127.0.0.1"]).code, 403)
        XCTAssertEqual(try get(s, "h2", "app.policy.test", "/info", ["--interface", "127.0.0.2"]).code, 403)
        XCTAssertEqual(try count(web), 1)
        let through = try h.curl(["--cacert", tlsCA.ca, "--resolve", "pass.policy.test:\(s.publicPort):127.0.0.1", "https://pass.policy.test:\(s.publicPort)/"])
        XCTAssertEqual(through.status, 0, through.output)
        let denied = try h.curl(["--interface", "127.0.0.2", "--cacert", tlsCA.ca, "--resolve", "pass.policy.test:\(s.publicPort):127.0.0.1", "https://pass.policy.test:\(s.publicPort)/"])
        XCTAssertNotEqual(denied.status, 0, denied.output)
        XCTAssertTrue(s.relay.output.contains("reason=ip_denied"), s.relay.output)
    }

    /// A rate limit per visitor address: the burst passes, the next request gets 429 with
    /// `Retry-After`, and after that long requests pass again.
    func testRateLimitIsReachedThenRecovers() throws {
        let web = try origin("web")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      rateLimit: {rate: "1/s", burst: 3}
                """, agents: [("web", web)])
        var codes: [Int] = []
        for _ in 0..<5 { codes.append(try get(s, "http", "app.policy.test", "/info").code) }
        XCTAssertEqual(Array(codes.prefix(3)), [200, 200, 200], "\(codes)")
        XCTAssertTrue(codes.contains(429), "\(codes)")
        let limited = try get(s, "http", "app.policy.test", "/info", ["-D", "-"])
        XCTAssertEqual(limited.code, 429)
        let retry = limited.body.lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("retry-after:") }
        let seconds = Int(retry?.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespaces) ?? "") ?? 0
        XCTAssertTrue((1...2).contains(seconds), "\(limited.body)")
        // Another address has its own bucket.
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["--interface", "127.0.0.3"]).code, 200)
        usleep(UInt32(seconds) * 1_000_000 + 200_000)
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info").code, 200)
        XCTAssertTrue(s.relay.output.contains("reason=rate_limited"), s.relay.output)
    }

    /// `hostHeaderRewrite`, request headers set/added/removed and response headers removed/set, as
    /// the origin and the visitor see them; `X-Forwarded-Host` and `Forwarded` on HTTP/1 and h2.
    func testHeaderRewritingAsTheOriginAndTheVisitorSeeIt() throws {
        let web = try origin("web")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      hostHeaderRewrite: internal.local
                      requestHeaders:
                        set: {X-Team: blue}
                        add: {X-Extra: one}
                        remove: [X-Secret]
                      responseHeaders:
                        set: {X-Frame-Options: DENY}
                        remove: [Server]
                """, agents: [("web", web)])
        for scheme in ["http", "h2"] {
            let r = try get(s, scheme, "app.policy.test", "/info", ["-D", "-", "-H", "X-Secret: 42", "-H", "X-Team: red"])
            XCTAssertEqual(r.code, 200, r.body)
            let head = r.body.lowercased()
            XCTAssertTrue(head.contains("x-frame-options: deny"), "\(scheme): \(r.body)")
            XCTAssertFalse(head.contains("\nserver:"), "\(scheme): \(r.body)")
            let json = String(r.body[r.body.range(of: "{")!.lowerBound...])
            let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let headers = try XCTUnwrap(info["headers"] as? [String: String])
            XCTAssertEqual(info["host"] as? String, "internal.local", scheme)
            XCTAssertEqual(headers["x-team"], "blue", scheme)
            XCTAssertEqual(headers["x-extra"], "one", scheme)
            XCTAssertNil(headers["x-secret"], scheme)
            XCTAssertEqual(headers["x-forwarded-host"], "app.policy.test:\(s.publicPort)", scheme)
            XCTAssertEqual(headers["forwarded"], "for=127.0.0.1;host=\"app.policy.test:\(s.publicPort)\";proto=\(scheme == "h2" ? "https" : "http")", scheme)
        }
    }

    /// frp's `locations`: `/api/` of one host goes to one agent, every other path to another.
    func testLocationsSendPathsOfOneHostToTwoAgents() throws {
        let web = try origin("web")
        let api = try origin("api")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                  - hostname: app.policy.test
                    endpoint: api
                    locations: ["/api/"]
                """, agents: [("web", web), ("api", api)])
        for scheme in ["http", "h2"] {
            XCTAssertTrue(try get(s, scheme, "app.policy.test", "/api/users").body.contains("\"name\": \"api\""), scheme)
            XCTAssertTrue(try get(s, scheme, "app.policy.test", "/info").body.contains("\"name\": \"web\""), scheme)
            XCTAssertTrue(try get(s, scheme, "app.policy.test", "/p/api/").body.contains("\"name\": \"web\""), scheme)
        }
        // On one keep-alive connection, each request by its own path.
        let both = try h.curl(["-s", "http://127.0.0.1:\(s.publicPort)/api/a", "-H", "Host: app.policy.test", "http://127.0.0.1:\(s.publicPort)/info", "-H", "Host: app.policy.test"])
        XCTAssertTrue(both.output.contains("\"name\": \"api\"") && both.output.contains("\"name\": \"web\""), both.output)
    }

    /// Bandwidth per tunnel is an aggregate: two downloads at once through one tunnel limited to
    /// 1 MiB/s together take as long as their sum at that rate (within ±15%), not half of it.
    func testBandwidthIsSharedByTheTunnelsConnections() throws {
        let web = try origin("web")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      bandwidth: 1MB/s
                """, agents: [("web", web)])
        let size = 3 << 20
        let started = Date()
        let downloads = try (0..<2).map { _ in
            try h.start("/usr/bin/env", ["curl", "-sS", "-m", "30", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Host: app.policy.test", "http://127.0.0.1:\(s.publicPort)/blob/\(size)"])
        }
        for d in downloads {
            let deadline = Date().addingTimeInterval(40)
            while d.process.isRunning && Date() < deadline { usleep(20_000) }
            XCTAssertEqual(d.output, "\(size)")
        }
        let elapsed = Date().timeIntervalSince(started)
        let expected = Double(2 * size) / Double(1 << 20)
        XCTAssertEqual(elapsed, expected, accuracy: expected * 0.15, "two downloads of \(size) bytes took \(elapsed) s at 1 MiB/s together")
        // The other way too: an upload through the same tunnel is paced by the same budget.
        let body = h.tempFile("upload", contents: String(repeating: "u", count: 2 << 20))
        let upStart = Date()
        let up = try h.curl(["-s", "-H", "Host: app.policy.test", "--data-binary", "@\(body.path)", "http://127.0.0.1:\(s.publicPort)/sha"])
        let upElapsed = Date().timeIntervalSince(upStart)
        XCTAssertTrue(up.output.contains("\"length\": \(2 << 20)"), up.output)
        XCTAssertEqual(upElapsed, 2, accuracy: 2 * 0.15, "an upload of 2 MiB took \(upElapsed) s at 1 MiB/s")
    }

    /// The rule's own error page for a refusal, and for a tunnel with no agent.
    func testCustomErrorPages() throws {
        let page = h.tempFile("403.html", contents: "<h1>not from here</h1>")
        let offline = h.tempFile("503.html", contents: "<h1>back soon</h1>")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      deny: ["127.0.0.0/8"]
                      errorPages: {"403": "\(page.path)"}
                  - hostname: down.policy.test
                    endpoint: nobody
                    policy:
                      errorPages: {"503": "\(offline.path)"}
                """, agents: [])
        let refused = try get(s, "http", "app.policy.test", "/")
        XCTAssertEqual(refused.code, 403)
        XCTAssertEqual(refused.body, "<h1>not from here</h1>")
        for scheme in ["http", "h2"] {
            let down = try get(s, scheme, "down.policy.test", "/")
            XCTAssertEqual(down.code, 503, scheme)
            XCTAssertEqual(down.body, "<h1>back soon</h1>", scheme)
        }
    }

    /// An agent may add to the relay's policy (its own deny list, its own basic auth where the
    /// relay has none) but never loosen it: a rule's deny list and basic auth stay as configured
    /// when the agent claims `--allow 0.0.0.0/0` and its own user.
    func testAnAgentAddsToTheRelaysPolicyButNeverLoosensIt() throws {
        let web = try origin("web")
        let hash = try bcrypt("alice", "pw-a")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      deny: ["127.0.0.2"]
                      basicAuth: {users: {alice: "\(hash)"}}
                """, agents: [])
        let agent = try h.agent([
            "--relay", "127.0.0.1:\(s.agentPort)", "--tunnel-id", "web", "--expose", "127.0.0.1:\(web)",
            "--allow", "0.0.0.0/0", "--deny", "127.0.0.3", "--basic-auth", "mallory:pw-m",
        ])
        _ = try agent.wait(for: "connected to relay")
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["-u", "alice:pw-a"]).code, 200)
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["-u", "alice:pw-a", "--interface", "127.0.0.2"]).code, 403, "the relay's deny list stands")
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["-u", "alice:pw-a", "--interface", "127.0.0.3"]).code, 403, "the agent's deny list adds")
        XCTAssertEqual(try get(s, "http", "app.policy.test", "/info", ["-u", "mallory:pw-m"]).code, 401, "the relay's credentials win")
        XCTAssertEqual(try count(web), 1)
    }

    /// A token's policy in the relay's tokens file applies to what its agents serve: an rtcp and
    /// an rudp port refuse 127.0.0.2 and serve 127.0.0.1, the rtcp port holds one connection at a time; an agent whose token does not allow a
    /// policy of its own is refused with the reason.
    func testATokensPolicyGuardsItsRtcpAndRudpPorts() throws {
        let file = h.tempFile("tokens.yaml", contents: """
            tokens:
            - token: ops
              tunnels: ["*"]
              ports: ["*"]
              policy:
                deny: ["127.0.0.2"]
                maxConnections: 1
            """)
        let tcpEcho = try h.echo("tcp")
        let udpEcho = try h.echo("udp")
        let relay = try startRelay(["--tokens", file.path])
        let tcpPort = try freePort()
        let udpPort = try freePort()
        var args = ["--relay", "127.0.0.1:\(relay.agentPort)", "--token", "ops", "--pin", relay.pin]
        let tcpAgent = try h.agent(args + ["--expose", "127.0.0.1:\(tcpEcho)", "--remote-port", "\(tcpPort)"])
        let udpAgent = try h.agent(args + ["--expose", "127.0.0.1:\(udpEcho)", "--remote-udp-port", "\(udpPort)"])
        _ = try tcpAgent.wait(for: "connected to relay")
        _ = try udpAgent.wait(for: "connected to relay")
        func peer(_ mode: String, _ port: Int, _ src: String) throws -> String {
            try h.runPython("policy_peer.py", [mode, "\(port)", src], timeout: 30).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(try peer("tcp", tcpPort, "127.0.0.1"), "OK")
        XCTAssertEqual(try peer("tcp", tcpPort, "127.0.0.2"), "CLOSED")
        XCTAssertEqual(try peer("udp", udpPort, "127.0.0.1"), "OK")
        XCTAssertEqual(try peer("udp", udpPort, "127.0.0.2"), "NOREPLY")
        // maxConnections: 1 for the tunnel: a second connection is turned away while the first
        // is open, and admitted again once it closed.
        XCTAssertEqual(try peer("limit", tcpPort, "127.0.0.1"), "OK CLOSED OK")
        XCTAssertTrue(relay.process.output.contains("reason=ip_denied"), relay.process.output)
        args += ["--expose", "127.0.0.1:\(tcpEcho)", "--remote-port", "\(try freePort())", "--allow", "127.0.0.0/8"]
        let wishful = try h.agent(args)
        _ = try wishful.wait(for: "may not set a visitor policy")
    }

    /// Behind a trusted load balancer the PROXY protocol header names the visitor: its address is
    /// the one the deny list and `X-Forwarded-For` see. From an untrusted peer the same header is
    /// not read (the request is malformed HTTP, 400), so no one can claim another address.
    func testTheProxyProtocolAddressOfATrustedBalancerIsTheVisitors() throws {
        let web = try origin("web")
        let relay = try startRelay(["--trusted-proxies", "127.0.0.1/32"])
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(web)", "--hostname", "app.policy.test", "--deny", "203.0.113.9"])
        _ = try agent.wait(for: "connected to relay")
        func visit(_ src: String, _ prefix: String) throws -> (code: String, body: String) {
            let out = try h.runPython("policy_peer.py", ["http", "\(relay.publicPort)", src, "app.policy.test", prefix], timeout: 30).output
            let lines = out.split(separator: "\n", maxSplits: 1).map(String.init)
            return (lines.first ?? "", lines.count > 1 ? lines[1] : "")
        }
        let denied = try visit("127.0.0.1", "PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\\r\\n")
        XCTAssertEqual(denied.code, "403", denied.body)
        let allowed = try visit("127.0.0.1", "PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\\r\\n")
        XCTAssertEqual(allowed.code, "200", allowed.body)
        XCTAssertTrue(allowed.body.contains("\"xff\": \"198.51.100.7\""), allowed.body)
        // The balancer must send the header: a request without one is refused outright.
        XCTAssertEqual(try visit("127.0.0.1", "").code, "NONE")
        // Not the balancer: its header is just bytes, and not HTTP.
        XCTAssertEqual(try visit("127.0.0.2", "PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\\r\\n").code, "400")
        XCTAssertEqual(try visit("127.0.0.2", "").code, "200")
    }

    /// A compact JWS signed here with P-256 (ES256), independently of the relay's JWT library.
    func jwt(_ key: P256.Signing.PrivateKey, kid: String, claims: [String: Any]) throws -> String {
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let header = b64(try JSONSerialization.data(withJSONObject: ["alg": "ES256", "typ": "JWT", "kid": kid]))
        let payload = b64(try JSONSerialization.data(withJSONObject: claims))
        let signature = try key.signature(for: Data("\(header).\(payload)".utf8)).rawRepresentation
        return "\(header).\(payload).\(b64(signature))"
    }

    func jwk(_ key: P256.Signing.PrivateKey, kid: String) -> String {
        let raw = key.publicKey.rawRepresentation  // x || y
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"\(kid)\",\"use\":\"sig\",\"x\":\"\(b64(raw.prefix(32)))\",\"y\":\"\(b64(raw.suffix(32)))\"}"
    }

    /// JWTs checked against a JWKS file: a valid token passes (HTTP and h2), an expired one, one
    /// signed by another key, one for another audience and none at all get 401 and never reach the
    /// origin; the key set is re-read when the file changes (a rotated key is accepted).
    func testJWTsAreCheckedAgainstTheJWKS() throws {
        let web = try origin("web")
        let key = P256.Signing.PrivateKey()
        let other = P256.Signing.PrivateKey()
        let jwks = h.tempFile("jwks.json", contents: "{\"keys\":[\(jwk(key, kid: "k1"))]}")
        let s = try start(
            rules: """
                  - hostname: app.policy.test
                    endpoint: web
                    policy:
                      jwt: {jwksFile: "\(jwks.path)", issuer: "https://id.policy.test", audience: app}
                """, agents: [("web", web)])
        _ = try s.relay.wait(for: "JWKS loaded")
        let now = Int(Date().timeIntervalSince1970)
        let good: [String: Any] = ["iss": "https://id.policy.test", "aud": "app", "sub": "alice", "exp": now + 300]
        let valid = try jwt(key, kid: "k1", claims: good)
        for scheme in ["http", "h2"] {
            let ok = try get(s, scheme, "app.policy.test", "/info", ["-H", "Authorization: Bearer \(valid)"])
            XCTAssertEqual(ok.code, 200, "\(scheme): \(ok.body)")
            XCTAssertFalse(ok.body.contains("authorization"), "the checked token is not passed on: \(ok.body)")
        }
        var expired = good
        expired["exp"] = now - 3600
        var otherAudience = good
        otherAudience["aud"] = "billing"
        for (token, reason) in [
            (try jwt(key, kid: "k1", claims: expired), "jwt_expired"), (try jwt(other, kid: "k1", claims: good), "jwt_bad_signature"),
            (try jwt(other, kid: "k2", claims: good), "jwt_unknown_key"), (try jwt(key, kid: "k1", claims: otherAudience), "jwt_wrong_audience"),
        ] {
            let r = try get(s, "http", "app.policy.test", "/info", ["-D", "-", "-H", "Authorization: Bearer \(token)"])
            XCTAssertEqual(r.code, 401, reason)
            XCTAssertTrue(r.body.lowercased().contains("www-authenticate: bearer"), r.body)
            XCTAssertTrue(s.relay.output.contains("reason=\(reason)"), "\(reason) not logged")
        }
        XCTAssertEqual(try get(s, "h2", "app.policy.test", "/info").code, 401)
        XCTAssertEqual(try count(web), 2)
        // Key rotation: the file now holds k2 as well.
        try "{\"keys\":[\(jwk(key, kid: "k1")),\(jwk(other, kid: "k2"))]}".write(to: jwks, atomically: true, encoding: .utf8)
        let rotated = try jwt(other, kid: "k2", claims: good)
        var code = 0
        for _ in 0..<50 where code != 200 {
            code = try get(s, "http", "app.policy.test", "/info", ["-H", "Authorization: Bearer \(rotated)"]).code
            if code != 200 { usleep(200_000) }
        }
        XCTAssertEqual(code, 200, "the rotated key was not picked up")
    }
}
