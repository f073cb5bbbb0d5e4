import NIOCore
import NIOEmbedded
import NIOSSL
import XCTest

@testable import TunnelServer

/// The HTTPS port's routing: ClientHellos made by a real TLS client (NIOSSL in an
/// EmbeddedChannel), and every branch of `TLSRoute.decide`.
final class TLSRouteTests: XCTestCase {
    /// The first flight a NIOSSL client sends for `serverName` offering `alpn`.
    func realClientHello(serverName: String?, alpn: [String]) throws -> ByteBuffer {
        var config = TLSConfiguration.makeClientConfiguration()
        config.applicationProtocols = alpn
        config.certificateVerification = .none
        let context = try NIOSSLContext(configuration: config)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: serverName))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        var out = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { out.writeBuffer(&chunk) }
        _ = try? channel.finish()
        return out
    }

    func testRealClientHelloGivesNameAndALPN() throws {
        let hello = try realClientHello(serverName: "app.example.test", alpn: ["tunnel-agent/1", "h2"])
        XCTAssertEqual(ClientHello.peek(hello), .hello(.init(serverName: "app.example.test", alpn: ["tunnel-agent/1", "h2"])))
        let plain = try realClientHello(serverName: nil, alpn: [])
        XCTAssertEqual(ClientHello.peek(plain), .hello(.init()))
        XCTAssertEqual(ClientHello.peek(hello.getSlice(at: 0, length: 40)!), .needMore)
    }

    func facts(certs: Set<String> = [], challenges: Set<String> = [], modes: [String: RuleOptions.TLSMode] = [:], tunnels: [String: String] = [:], agent: Bool = true, relayNames: Set<String> = []) -> TLSRoute.Facts {
        TLSRoute.Facts(
            agentALPN: "tunnel-agent/1", hasAgentEndpoint: agent, relayNames: relayNames,
            hasChallenge: { challenges.contains($0) }, hasCertificate: { certs.contains($0) },
            mode: { modes[$0] }, tunnel: { tunnels[$0] })
    }

    func testDecisions() {
        typealias I = ClientHello.Info
        // The agents' ALPN wins over every name, but only where an agent endpoint exists.
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test", alpn: ["tunnel-agent/1"]), facts(certs: ["app.test"])), .agent)
        XCTAssertEqual(TLSRoute.decide(I(serverName: nil, alpn: ["tunnel-agent/1"]), facts()), .agent)
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test", alpn: ["tunnel-agent/1"]), facts(agent: false)), .refuse(reason: "no tunnel for app.test"))
        // ACME TLS-ALPN-01 only while a challenge is pending for that name.
        XCTAssertEqual(TLSRoute.decide(I(serverName: "App.Test.", alpn: ["acme-tls/1"]), facts(challenges: ["app.test"])), .acmeChallenge(serverName: "app.test"))
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test", alpn: ["acme-tls/1"]), facts(certs: ["app.test"])), .refuse(reason: "no ACME challenge pending for app.test"))
        // A certificate terminates; a passthrough rule overrides it; without one the tunnel gets the bytes.
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test", alpn: ["h2", "http/1.1"]), facts(certs: ["app.test"], tunnels: ["app.test": "t"])), .terminate(serverName: "app.test"))
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test"), facts(certs: ["app.test"], modes: ["app.test": .passthrough], tunnels: ["app.test": "t"])), .passthrough(tunnel: "t", serverName: "app.test"))
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test"), facts(tunnels: ["app.test": "t"])), .passthrough(tunnel: "t", serverName: "app.test"))
        // `terminate` without a certificate is refused, never passed through.
        XCTAssertEqual(TLSRoute.decide(I(serverName: "app.test"), facts(modes: ["app.test": .terminate], tunnels: ["app.test": "t"])), .refuse(reason: "no certificate for app.test yet"))
        // The relay's own name takes agents that send no ALPN, never a browser.
        XCTAssertEqual(TLSRoute.decide(I(serverName: "relay.test"), facts(relayNames: ["relay.test"])), .agent)
        XCTAssertEqual(TLSRoute.decide(I(serverName: "relay.test", alpn: ["h2"]), facts(relayNames: ["relay.test"])), .refuse(reason: "no tunnel for relay.test"))
        XCTAssertEqual(TLSRoute.decide(I(), facts()), .refuse(reason: "no server name (SNI) in the ClientHello"))
    }
}
