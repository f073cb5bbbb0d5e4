import Foundation
import XCTest

/// How the binaries treat configuration: GOST's YAML examples, its flags, and configs that cannot run.
final class ConfigEndToEndTests: EndToEndTestCase {
    /// Every YAML example of the seed (deploy/examples) is accepted as it is.
    func testSeedExamplesLoad() throws {
        let dir = h.root.appendingPathComponent("deploy/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 7)
        for f in files {
            // Relay configs (a `tunnel` handler) are the relay's; the rest run in either binary.
            let binary = f.contains("relay") ? "tunnel-server" : "tunnel-agent"
            let r = try h.run(h.binDir.appendingPathComponent(binary).path, ["-C", dir.appendingPathComponent(f).path, "-O", "yaml"])
            XCTAssertEqual(r.status, 0, "\(f): \(r.output)")
            XCTAssertTrue(r.output.contains("services:"), "\(f): \(r.output)")
            XCTAssertFalse(r.output.contains("not an option"), "\(f): every metadata key is one we read: \(r.output)")
        }
    }

    /// A misspelt metadata key runs (GOST configs carry keys of GOST's own) but is named, with
    /// its path, instead of being ignored without a word.
    func testUnknownMetadataKeyIsReportedWithItsPath() throws {
        let r = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, [
            "-L", "rtcp://:0/127.0.0.1:80", "-F", "tunnel+tls://127.0.0.1:1?tunnel.id=abc&tunnel.weigth=3", "-O", "yaml",
        ])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("chains[0].hops[0].nodes[0].connector.metadata.tunnel.weigth: not an option of tunnel-agent"), r.output)
        XCTAssertFalse(r.output.contains("tunnel.id: not an option"), r.output)
    }

    func testBadConfigsAreRefusedWithPathAndExitCode2() throws {
        let cases: [(String, String)] = [
            ("services:\n- name: a\n  addr: :0\n  handler: {type: http, chain: chain-1}\n  listener: {type: tcp}\n", "services[0].handler.chain: no chain named \"chain-1\""),
            ("services:\n- name: a\n  addr: :0\n  handler: {type: htp}\n  listener: {type: tcp}\n", "services[0].handler.type: unknown handler type \"htp\""),
            ("services:\n- name: a\n  addr: :0\n  handler: {type: http, typo: 1}\n  listener: {type: tcp}\n", "services[0].handler.typo: unknown key \"typo\""),
            ("services:\n- name: a\n  addr: :0\n  handler: {type: http}\n  listener: {type: tcp}\n  forwarder: {nodes: 5}\n", "services[0].forwarder.nodes: wrong type"),
            ("services: [\n", "not valid YAML"),
            ("chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - {name: n, addr: 'x:1', connector: {type: nope}}\n", "chains[0].hops[0].nodes[0].connector.type: unknown connector type \"nope\""),
            ("services:\n- name: a\n  addr: :0\n  handler: {type: tcp}\n  listener: {type: tcp}\n", "services[0].forwarder.nodes: the tcp handler needs at least one target node"),
            ("services:\n- name: a\n  addr: :0\n  handler: {type: http}\n  listener: {type: udp}\n", "services[0].listener.type: handler \"http\" cannot run on a \"udp\" listener"),
        ]
        for (yaml, expected) in cases {
            let file = h.tempFile("bad.yaml", contents: yaml)
            let r = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, ["-C", file.path])
            XCTAssertEqual(r.status, 2, "\(yaml)\n\(r.output)")
            XCTAssertTrue(r.output.contains(expected), "expected \(expected) in: \(r.output)")
        }
        let bad = try h.run(h.binDir.appendingPathComponent("tunnel-server").path, ["-L", "http://:99999"])
        XCTAssertEqual(bad.status, 2, bad.output)
        XCTAssertTrue(bad.output.contains("-L[0]"), bad.output)
    }

    func testFlagsPrintAsYAML() throws {
        let r = try h.run(h.binDir.appendingPathComponent("tunnel-agent").path, ["-L", "http://u:p@:8080?foo=bar", "-F", "socks5+tls://relay.example:1080?secure=true", "-O", "yaml"])
        XCTAssertEqual(r.status, 0, r.output)
        for needle in ["type: http", "username: u", "foo: bar", "type: socks5", "type: tls", "secure: true", "chain: cli-chain", "addr: relay.example:1080"] {
            XCTAssertTrue(r.output.contains(needle), "missing \(needle) in:\n\(r.output)")
        }
    }

    func testSIGTERMStopsCleanly() throws {
        let agent = try h.agent(["-L", "http://127.0.0.1:0"])
        _ = try agent.port(ofService: "cli-0")
        agent.process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while agent.process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(agent.process.isRunning)
        XCTAssertEqual(agent.process.terminationStatus, 0, agent.output)
    }
}
