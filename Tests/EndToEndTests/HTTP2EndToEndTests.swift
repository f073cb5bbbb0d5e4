import Foundation
import XCTest

/// HTTP/2 to visitors on TLS the relay terminates: ALPN `h2` next to `http/1.1`, each stream routed
/// by `:authority` on its own Mux stream (HTTP/1.1 to the local service, or h2c for a rule with
/// `upstream: h2c`), flow control end to end. Real clients: curl (`--http2`/`--http1.1`), Python's
/// `h2` library (many streams, a stalled reader, SSE, CONNECT), `grpcio` (client and server).
final class HTTP2EndToEndTests: EndToEndTestCase {
    struct Setup {
        var relay: Relay
        var httpsPort: Int
        var ca: String
        var originPort: Int
    }

    /// A relay terminating TLS for app.example.test and *.wild.example.test (HSTS 600), an agent
    /// exposing http_origin.py as app.example.test.
    func startStack(origin name: String = "h2origin", extra: [String] = []) throws -> Setup {
        let ca = try makeCA(["app.example.test", "*.wild.example.test"])
        let httpsPort = try freePort()
        let relay = try startRelay(["--https-addr", "127.0.0.1:\(httpsPort)", "--tls-cert", ca.cert, "--tls-key", ca.key, "--hsts-max-age", "600"] + extra)
        let origin = try h.python("http_origin.py", [name])
        let originPort = Int(try origin.wait(for: "PORT (\\d+)"))!
        let agent = try h.agent(agentArgs(relay) + ["--expose", "127.0.0.1:\(originPort)", "--hostname", "app.example.test"])
        _ = try agent.wait(for: "connected to relay")
        return Setup(relay: relay, httpsPort: httpsPort, ca: ca.ca, originPort: originPort)
    }

    func curl(_ s: Setup, _ args: [String], host: String = "app.example.test") throws -> (status: Int32, output: String) {
        try h.curl(["--cacert", s.ca, "--resolve", "\(host):\(s.httpsPort):127.0.0.1"] + args)
    }

    func testCurlNegotiatesH2AndHTTP11IsStillServed() throws {
        let s = try startStack()
        let url = "https://app.example.test:\(s.httpsPort)"
        let h2 = try curl(s, ["--http2", "-D", "-", "-w", "__V__%{http_version}", "\(url)/info"])
        XCTAssertEqual(h2.status, 0, h2.output)
        XCTAssertTrue(h2.output.hasSuffix("__V__2"), h2.output)
        XCTAssertTrue(h2.output.contains("HTTP/2 200"), h2.output)
        XCTAssertTrue(h2.output.contains("strict-transport-security: max-age=600"), h2.output)
        XCTAssertTrue(h2.output.contains("\"xfp\": \"https\""), h2.output)
        XCTAssertTrue(h2.output.contains("\"xff\": \"127.0.0.1\""), h2.output)
        XCTAssertTrue(h2.output.contains("\"host\": \"app.example.test:\(s.httpsPort)\""), h2.output)
        // The public (first-byte sniffing) port negotiates h2 as well.
        let sniffed = try h.curl(["--cacert", s.ca, "--resolve", "app.example.test:\(s.relay.publicPort):127.0.0.1", "--http2", "-w", "__V__%{http_version}",
                                  "https://app.example.test:\(s.relay.publicPort)/info"])
        XCTAssertTrue(sniffed.output.hasSuffix("__V__2"), sniffed.output)
        let h1 = try curl(s, ["--http1.1", "-w", "__V__%{http_version}", "\(url)/info"])
        XCTAssertTrue(h1.output.hasSuffix("__V__1.1"), h1.output)
        // Several requests on one h2 connection, HEAD, a chunked answer with trailers.
        let many = try curl(s, ["--http2", "-w", "\n%{http_version} %{num_connects}\n", "\(url)/info", "\(url)/info", "\(url)/info"])
        XCTAssertEqual(many.output.components(separatedBy: "\n").filter { $0.hasPrefix("2 ") }.count, 3, many.output)
        XCTAssertEqual(many.output.components(separatedBy: "\n").filter { $0 == "2 0" }.count, 2, many.output)
        // Sequential requests of one h2 connection reuse the keep-alive connection to the local
        // service (the pool), rather than a new one each.
        let five = try curl(s, ["--http2"] + Array(repeating: "\(url)/info", count: 5))
        let peers = Set(five.output.components(separatedBy: "\"peer\": ").dropFirst().map { $0.prefix { $0.isNumber } })
        XCTAssertEqual(peers.count, 1, five.output)
        // An answer that closes its connection (Connection: close) is not reused: the next
        // requests get a fresh one and succeed.
        let closing = try curl(s, ["--http2", "-w", "\n%{http_code}\n", "\(url)/close", "\(url)/info", "\(url)/close", "\(url)/info"])
        XCTAssertEqual(closing.output.components(separatedBy: "\n").filter { $0 == "200" }.count, 4, closing.output)
        XCTAssertEqual(closing.output.components(separatedBy: "closing").count, 3, closing.output)
        let head = try curl(s, ["--http2", "-I", "\(url)/info"])
        XCTAssertTrue(head.output.contains("HTTP/2 200"), head.output)
        let headers = h.tempFile("headers").path
        let chunked = try h.run("/bin/bash", ["-c", "curl -sS -m 30 --http2 --cacert \(s.ca) --resolve app.example.test:\(s.httpsPort):127.0.0.1 -D \(headers) \(url)/chunked/3000000 | sha256sum"])
        let expected = try String(contentsOfFile: headers, encoding: .utf8).components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-sha256:") }?
            .split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
        XCTAssertNotNil(expected, chunked.output)
        XCTAssertEqual(chunked.output.split(separator: " ").first.map(String.init), expected)
        // A name with a certificate but no tunnel: 404 on its stream, over h2 too.
        let none = try curl(s, ["--http2", "-w", "__S__%{http_code}", "https://nobody.wild.example.test:\(s.httpsPort)/"], host: "nobody.wild.example.test")
        XCTAssertTrue(none.output.hasSuffix("__S__404"), none.output)
    }

    /// 64 MiB streamed up (curl -T) over HTTPS and over h2, and 32 MiB down over h2, byte-exact.
    func testLargeStreamedUploadsAndDownloadsOverHTTPSAndH2() throws {
        let s = try startStack()
        let file = h.tempFile("upload.bin").path
        XCTAssertEqual(try h.run("/bin/bash", ["-c", "head -c 67108864 /dev/urandom > \(file)"]).status, 0)
        let sha = try h.run("/bin/bash", ["-c", "sha256sum \(file)"]).output.split(separator: " ").first.map(String.init) ?? ""
        for version in ["--http1.1", "--http2"] {
            let r = try h.run("/usr/bin/env", ["curl", "-sS", "-m", "90", version, "--cacert", s.ca, "--resolve", "app.example.test:\(s.httpsPort):127.0.0.1",
                                               "-X", "POST", "-T", file, "-w", "__V__%{http_version}", "https://app.example.test:\(s.httpsPort)/sha"], timeout: 120)
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("\"length\": 67108864"), "\(version) \(r.output)")
            XCTAssertTrue(r.output.contains("\"sha256\": \"\(sha)\""), "\(version) \(r.output)")
            XCTAssertTrue(r.output.hasSuffix(version == "--http2" ? "__V__2" : "__V__1.1"), r.output)
        }
        let headers = h.tempFile("headers").path
        let down = try h.run("/bin/bash", ["-c", "curl -sS -m 60 --http2 --cacert \(s.ca) --resolve app.example.test:\(s.httpsPort):127.0.0.1 -D \(headers) https://app.example.test:\(s.httpsPort)/blob/33554432 | sha256sum"], timeout: 90)
        let expected = try String(contentsOfFile: headers, encoding: .utf8).components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-sha256:") }?
            .split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
        XCTAssertNotNil(expected, down.output)
        XCTAssertEqual(down.output.split(separator: " ").first.map(String.init), expected)
    }

    /// 100 concurrent streams on one connection; the first one's reader stalls (its stream window
    /// stays shut) while the 99 others complete byte-exact. Meanwhile the origin of the stalled
    /// 64 MiB answer has got only a few MiB out (windows and socket buffers, nothing piles up in
    /// the relay); then the reader resumes and the answer completes byte-exact too.
    func testHundredStreamsWithOneStalledReader() throws {
        let s = try startStack()
        let gate = h.tempFile("gate").path
        let client = try h.python("h2_streams.py", ["\(s.httpsPort)", "app.example.test", s.ca, "100", "262144", "\(64 << 20)", gate])
        _ = try client.wait(for: "(HOLDING)", timeout: 120)
        let stats = try curl(s, ["--http1.1", "https://app.example.test:\(s.httpsPort)/stats"])
        let sent = stats.output.components(separatedBy: "\"blob_sent\": ").dropFirst().first.map { Int($0.prefix { $0.isNumber }) ?? -1 } ?? -1
        XCTAssertGreaterThan(sent, 0, stats.output)
        XCTAssertLessThan(sent, 32 << 20, "the stalled answer was pulled from the origin regardless: \(stats.output)")
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        _ = try client.wait(for: "(OK completed=99)", timeout: 120)
    }

    /// A visitor that takes nothing of an answer for the idle timeout (2 s here) has that stream
    /// reset, so it cannot hold an upstream forever; its connection's other streams go on.
    func testAStreamWhoseReaderStopsIsResetAfterTheIdleTimeout() throws {
        let s = try startStack(extra: ["--http-idle-timeout", "2s"])
        let r = try h.runPython("web_checks.py", ["stall2", "\(s.httpsPort)", "app.example.test", s.ca], timeout: 60)
        XCTAssertEqual(r.output, "OK\n")
    }

    /// WebSocket over HTTPS (HTTP/1.1), SSE unbuffered over HTTPS and over h2, CONNECT over h2
    /// answered 501 (no WebSocket over h2), garbage frames answered with GOAWAY and a close.
    func testWebSocketAndServerSentEventsOverHTTPSAndH2() throws {
        let s = try startStack()
        for mode in ["ws", "sse1", "sse2", "connect2", "garbage2"] {
            let r = try h.runPython("web_checks.py", [mode, "\(s.httpsPort)", "app.example.test", s.ca], timeout: 60)
            XCTAssertEqual(r.output, "OK\n", mode)
        }
        // curl over HTTPS gets the events as they come as well: the first one shows before the
        // origin may send the second (it waits for the ack, asked only once curl has printed it).
        for version in ["--http1.1", "--http2"] {
            let sse = try h.start("/usr/bin/env", ["curl", "-sS", "-N", "-m", "30", version, "--cacert", s.ca, "--resolve", "app.example.test:\(s.httpsPort):127.0.0.1",
                                                   "https://app.example.test:\(s.httpsPort)/sse"])
            _ = try sse.wait(for: "data: (one)")
            _ = try curl(s, [version, "https://app.example.test:\(s.httpsPort)/sse-ack"])
            _ = try sse.wait(for: "data: (two)")
            let stats = try curl(s, [version, "https://app.example.test:\(s.httpsPort)/stats"])
            XCTAssertTrue(stats.output.contains("\"sse_acked\": true"), "\(version) \(stats.output)")
        }
    }

    /// gRPC end to end through a rule with `upstream: h2c`: grpcio client over TLS to the relay,
    /// grpcio server (h2c) behind the agent: unary with trailing metadata, bidirectional streaming,
    /// an error status with details (trailers-only), a 4 MiB reply.
    func testGRPCThroughAnH2CUpstream() throws {
        let ca = try makeCA(["grpc.example.test"])
        let server = try h.python("grpc_peer.py", ["server"])
        let grpcPort = Int(try server.wait(for: "PORT (\\d+)"))!
        let id = "7b1f3c52-2d7e-4a8e-9a52-0c6f8f0e2a11"
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
              - hostname: grpc.example.test
                endpoint: \(id)
                upstream: h2c
            """
        let relay = try h.server(["-C", h.tempFile("relay.yaml", contents: yaml).path, "--tls-cert", ca.cert, "--tls-key", ca.key])
        let agentPort = try relay.port(ofService: "agents")
        let publicPort = try relay.port(ofService: "agents-entrypoint")
        let agent = try h.agent(["--relay", "127.0.0.1:\(agentPort)", "--tunnel-id", id, "--expose", "127.0.0.1:\(grpcPort)"])
        _ = try agent.wait(for: "connected to relay")
        let r = try h.runPython("grpc_peer.py", ["client", "\(publicPort)", "grpc.example.test", ca.ca], timeout: 120)
        XCTAssertEqual(r.output, "OK\n")
    }
}
