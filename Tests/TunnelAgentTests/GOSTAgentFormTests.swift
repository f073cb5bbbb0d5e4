import Shared
import TunnelProtocol
import XCTest

@testable import TunnelAgent

/// GOST's agent forms (an rtcp/rudp service whose listener chain is one `tunnel` or `socks5`
/// node) become tunnel clients, and only those services leave the config.
final class GOSTAgentFormTests: XCTestCase {
    func testRTCPThroughATunnelNodeBecomesAClient() throws {
        var config = try ConfigLoader.parse("""
            services:
            - name: web
              addr: :0
              handler: {type: rtcp}
              listener: {type: rtcp, chain: relay}
              forwarder: {nodes: [{name: local, addr: 127.0.0.1:8080}]}
            - name: proxy
              addr: :1080
              handler: {type: socks5}
              listener: {type: tcp}
            chains:
            - name: relay
              hops:
              - name: hop0
                nodes:
                - name: relay
                  addr: relay.example:8443
                  connector: {type: tunnel, metadata: {tunnel.id: 4d21094e-b74c-4916-86c1-d9fa36ea677b, hostnames: "a.test,b.test", tunnel.weight: "3"}}
                  dialer: {type: tcp}
            """)
        let clients = try GOSTAgentForm.extract(from: &config)
        XCTAssertEqual(clients.count, 1)
        let client = try XCTUnwrap(clients.first)
        XCTAssertEqual(client.relay, HostPort(host: "relay.example", port: 8443))
        XCTAssertEqual(client.tunnels.count, 1)
        XCTAssertEqual(client.tunnels[0].id, "4d21094e-b74c-4916-86c1-d9fa36ea677b")
        XCTAssertEqual(client.tunnels[0].hostnames, ["a.test", "b.test"])
        XCTAssertEqual(client.tunnels[0].target, HostPort(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(client.tunnels[0].remotePorts, [])
        XCTAssertEqual(client.tunnels[0].weight, 3)
        XCTAssertEqual(config.services?.map(\.name), ["proxy"])
        XCTAssertEqual(config.chains?.map(\.name) ?? [], [])
    }

    /// The YAML agent form with a socks5 node becomes a tunnel client over a SOCKS5BindDialer.
    func testGOSTFormWithSOCKS5Node() throws {
        var config = try URLSpec.config(listen: ["rudp://:10053/127.0.0.1:53"], forward: ["socks5://u:p@relay.example:1080"])
        config.services![0].listener.chain = config.services![0].handler.chain
        config.services![0].handler.chain = nil
        let clients = try GOSTAgentForm.extract(from: &config)
        XCTAssertEqual(clients.count, 1)
        XCTAssertEqual(clients[0].tunnels[0].id, "socks5-bind:udp/10053")
        XCTAssertEqual(clients[0].tunnels[0].remoteUDPPorts, [10053])
        XCTAssertEqual(clients[0].token, "")
        let dialer = try XCTUnwrap(clients[0].dialer as? SOCKS5BindDialer)
        XCTAssertEqual(dialer.credentials, Credentials(username: "u", password: "p"))
        XCTAssertTrue(dialer.udp)
        XCTAssertEqual(config.services?.count ?? 0, 0)

        var zero = try URLSpec.config(listen: ["rtcp://:0/127.0.0.1:22"], forward: ["socks5://relay.example:1080"])
        zero.services![0].listener.chain = zero.services![0].handler.chain
        XCTAssertThrowsError(try GOSTAgentForm.extract(from: &zero))
    }

    func testATunnelNodeWithoutAnIDIsRefusedWithItsPath() throws {
        var config = try ConfigLoader.parse("""
            services:
            - name: web
              addr: :0
              handler: {type: rtcp}
              listener: {type: rtcp, chain: relay}
              forwarder: {nodes: [{name: local, addr: 127.0.0.1:8080}]}
            chains:
            - name: relay
              hops:
              - name: hop0
                nodes:
                - {name: relay, addr: relay.example:8443, connector: {type: tunnel}}
            """)
        XCTAssertThrowsError(try GOSTAgentForm.extract(from: &config)) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "chains[relay].hops[0].nodes[0].connector.metadata")
        }
    }

    func testDerivedIDIsStableAndOrderFree() {
        let a = TunnelAgentCommand.derivedID(["b.test", "a.test"])
        XCTAssertEqual(a, TunnelAgentCommand.derivedID(["a.test", "b.test"]))
        XCTAssertNotEqual(a, TunnelAgentCommand.derivedID(["a.test"]))
        XCTAssertEqual(a.split(separator: "-").map(\.count), [8, 4, 4, 4, 12])
    }
}
