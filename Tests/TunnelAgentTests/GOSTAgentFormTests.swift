import Logging
import Shared
import TunnelProtocol
import XCTest

@testable import TunnelAgent

/// GOST's agent forms (an rtcp/rudp service whose listener chain is one `tunnel` or `socks5`
/// node): real listener types of the engine, each running the tunnel client its service names.
final class GOSTAgentFormTests: XCTestCase {
    func testRTCPThroughATunnelNodeBecomesAClient() throws {
        let config = try ConfigLoader.parse("""
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
        let client = try GOSTAgentForm.client(for: config.services![0], path: "services[0]", chain: config.chains?.first)
        XCTAssertEqual(client.relay, HostPort(host: "relay.example", port: 8443))
        XCTAssertEqual(client.tunnels.count, 1)
        XCTAssertEqual(client.tunnels[0].id, "4d21094e-b74c-4916-86c1-d9fa36ea677b")
        XCTAssertEqual(client.tunnels[0].hostnames, ["a.test", "b.test"])
        XCTAssertEqual(client.tunnels[0].target, HostPort(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(client.tunnels[0].remotePorts, [])
        XCTAssertEqual(client.tunnels[0].weight, 3)
        // Nothing is taken out of the config: the engine runs the service on its rtcp listener
        // (the relay's chain is the listener's to read, not built), beside the proxy.
        let services = try EngineBuilder(registry: Registry.standard.withAgentForms(), logger: Logger(label: "test")).build(config)
        XCTAssertEqual(services.map(\.name), ["web", "proxy"])
        XCTAssertEqual(services.map(\.listenerType), ["rtcp", "tcp"])
        XCTAssertEqual(services.map(\.handlerType), ["rtcp", "socks5"])
    }

    /// The YAML agent form with a socks5 node becomes a tunnel client over a SOCKS5BindDialer.
    func testGOSTFormWithSOCKS5Node() throws {
        let agent = Registry.standard.withAgentForms()
        var config = try URLSpec.config(listen: ["rudp://:10053/127.0.0.1:53"], forward: ["socks5://u:p@relay.example:1080"], listeners: agent.listenerTraits)
        config.services![0].listener.chain = config.services![0].handler.chain
        config.services![0].handler.chain = nil
        let clients = [try GOSTAgentForm.client(for: config.services![0], path: "services[0]", chain: config.chains?.first)]
        XCTAssertEqual(clients.count, 1)
        XCTAssertEqual(clients[0].tunnels[0].id, "socks5-bind:udp/10053")
        XCTAssertEqual(clients[0].tunnels[0].remoteUDPPorts, [10053])
        XCTAssertEqual(clients[0].token, "")
        let dialer = try XCTUnwrap(clients[0].dialer as? SOCKS5BindDialer)
        XCTAssertEqual(dialer.credentials, Credentials(username: "u", password: "p"))
        XCTAssertTrue(dialer.udp)
        XCTAssertEqual(try EngineBuilder(registry: agent, logger: Logger(label: "test")).build(config).map(\.listenerType), ["rudp"])

        var zero = try URLSpec.config(listen: ["rtcp://:0/127.0.0.1:22"], forward: ["socks5://relay.example:1080"], listeners: agent.listenerTraits)
        zero.services![0].listener.chain = zero.services![0].handler.chain
        XCTAssertThrowsError(try GOSTAgentForm.client(for: zero.services![0], path: "services[0]", chain: zero.chains?.first))
    }

    /// Hops before the relay's node are the way there; a `tunnel+wss` node is reached over a
    /// WebSocket with its `path` (default: the relay's agent path).
    func testHopsBeforeTheRelayNodeAndWebSocketNodes() throws {
        let agent = Registry.standard.withAgentForms()
        func client(_ forward: [String]) throws -> TunnelClientConfiguration {
            var config = try URLSpec.config(listen: ["rtcp://:0/127.0.0.1:8080"], forward: forward, listeners: agent.listenerTraits)
            config.services![0].listener.chain = config.services![0].handler.chain
            config.services![0].handler.chain = nil
            return try GOSTAgentForm.client(for: config.services![0], path: "services[0]", chain: config.chains?.first)
        }
        let id = "4d21094e-b74c-4916-86c1-d9fa36ea677b"
        let wss = try client(["http://u:p@proxy:3128", "socks5://proxy2:1080", "tunnel+wss://relay.example:443?tunnel.id=\(id)&path=/edge/agent"])
        XCTAssertEqual(wss.relay, HostPort(host: "relay.example", port: 443))
        let dialer = try XCTUnwrap(wss.dialer as? RelayDialer)
        XCTAssertEqual(dialer.endpoint, RelayEndpoint(transport: .wss, address: HostPort(host: "relay.example", port: 443), path: "/edge/agent"))
        XCTAssertEqual(dialer.router.chain?.hops.count, 2)
        XCTAssertEqual(dialer.router.chain?.hops.first?.selector.nodes.first?.address, HostPort(host: "proxy", port: 3128))
        XCTAssertNotNil(dialer.outerTLS)

        let ws = try XCTUnwrap(try client(["tunnel+ws://relay.example:80?tunnel.id=\(id)"]).dialer as? RelayDialer)
        XCTAssertEqual(ws.endpoint.path, "/_tunnel/agent")
        XCTAssertNil(ws.router.chain)

        XCTAssertThrowsError(try client(["tunnel+ws://relay.example:80?tunnel.id=\(id)&path=nope"]))
        XCTAssertThrowsError(try client(["tunnel+quic://relay.example:80?tunnel.id=\(id)"]))
        XCTAssertThrowsError(try client(["socks5+ws://relay.example:1080"]))
    }

    func testATunnelNodeWithoutAnIDIsRefusedWithItsPath() throws {
        let config = try ConfigLoader.parse("""
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
        // Refused by the engine as it builds the service's listener, with the path of the key.
        XCTAssertThrowsError(try EngineBuilder(registry: Registry.standard.withAgentForms(), logger: Logger(label: "test")).build(config)) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "chains[relay].hops[0].nodes[0].connector.metadata")
        }
        // A listener that takes no chain refuses one.
        var tcp = config
        tcp.services![0].listener.type = "tcp"
        XCTAssertThrowsError(try EngineBuilder(registry: Registry.standard.withAgentForms(), logger: Logger(label: "test")).build(tcp)) { error in
            XCTAssertEqual("\(error)", "services[0].listener.chain: listener type \"tcp\" does not use a chain")
        }
    }

    func testDerivedIDIsStableAndOrderFree() {
        let a = TunnelAgentCommand.derivedID(["b.test", "a.test"])
        XCTAssertEqual(a, TunnelAgentCommand.derivedID(["a.test", "b.test"]))
        XCTAssertNotEqual(a, TunnelAgentCommand.derivedID(["a.test"]))
        XCTAssertEqual(a.split(separator: "-").map(\.count), [8, 4, 4, 4, 12])
    }
}
