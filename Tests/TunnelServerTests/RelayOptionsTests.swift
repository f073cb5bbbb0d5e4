import NIOCore
import Shared
import XCTest

@testable import TunnelServer

/// The relay's handlers' metadata: parsed and declared by one type each.
final class RelayOptionsTests: XCTestCase {
    func testEntrypointOptions() throws {
        let defaults = try EntrypointOptions(metadata: Metadata())
        XCTAssertEqual(defaults, EntrypointOptions())
        XCTAssertEqual(defaults.idleTimeout, .seconds(75))
        XCTAssertEqual(defaults.headTimeout, .seconds(10))
        XCTAssertNil(defaults.fixedTunnel)
        let given = try EntrypointOptions(metadata: Metadata(["idleTimeout": "5s", "headTimeout": "2s", "tunnel": "t1"]))
        XCTAssertEqual(given.idleTimeout, .seconds(5))
        XCTAssertEqual(given.headTimeout, .seconds(2))
        XCTAssertEqual(given.fixedTunnel, "t1")
        XCTAssertEqual(try EntrypointOptions(metadata: Metadata(["tunnel.id": "a", "tunnel": "b"])).fixedTunnel, "a")
        XCTAssertThrowsError(try EntrypointOptions(metadata: Metadata(["idleTimeout": "0s"]))) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "handler.metadata.idleTimeout")
        }
        XCTAssertThrowsError(try EntrypointOptions(metadata: Metadata(["headTimeout": "soon"]))) { error in
            XCTAssertEqual((error as? ConfigError)?.description, "handler.metadata.headTimeout: expected a duration such as 10s, got \"soon\"")
        }
    }

    func testTunnelHandlerOptions() throws {
        let o = try TunnelHandlerOptions(metadata: Metadata(["tokens": "a,b", "tunnel": "x.test:t1,*.y.test:t2", "registrationTimeout": "3s"]))
        XCTAssertEqual(o.tokens, ["a", "b"])
        XCTAssertEqual(o.rules, [.init(hostname: "x.test", tunnel: "t1"), .init(hostname: "*.y.test", tunnel: "t2")])
        XCTAssertEqual(o.registrationTimeout, .seconds(3))
        XCTAssertEqual(try TunnelHandlerOptions(metadata: Metadata(["token": "c"])).tokens, ["c"])
        XCTAssertNil(try TunnelHandlerOptions(metadata: Metadata()).registrationTimeout)
        XCTAssertThrowsError(try TunnelHandlerOptions(metadata: Metadata(["tunnel": "no-colon"]))) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "handler.metadata.tunnel")
        }
        XCTAssertThrowsError(try TunnelHandlerOptions(metadata: Metadata(["registrationTimeout": "-1s"]))) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "handler.metadata.registrationTimeout")
        }
    }

    func testCompanionEntrypointCarriesItsTimeouts() throws {
        var service = ServiceConfig(name: "relay", addr: ":8443", handler: HandlerConfig(type: "tunnel", metadata: Metadata(["entrypoint": ":8080", "entrypoint.idleTimeout": "30s"])), listener: ListenerConfig(type: "tls"))
        let companion = try XCTUnwrap(TunnelHandlerOptions.companionEntrypoint(of: service))
        XCTAssertEqual(companion.name, "relay-entrypoint")
        XCTAssertEqual(companion.addr, ":8080")
        XCTAssertEqual(companion.handler.type, "entrypoint")
        XCTAssertEqual(companion.handler.metadata, Metadata(["idleTimeout": "30s"]))
        service.handler.metadata = nil
        XCTAssertNil(TunnelHandlerOptions.companionEntrypoint(of: service))
    }

    func testRelayRegistryDeclaresItsKeysAndNotTheAgents() {
        let keys = Registry.standard.withTunnel(LocalTunnelDirectory()).metadataKeys
        for key in TunnelHandlerOptions.metadataKeys.union(EntrypointOptions.metadataKeys).union(RelaySOCKS5Options.metadataKeys) {
            XCTAssertTrue(keys.contains(key), key)
        }
        XCTAssertFalse(keys.contains("tunnel.weight"))
        XCTAssertTrue(RelaySOCKS5Options(metadata: Metadata(["bind": "true"])).bind)
        XCTAssertFalse(RelaySOCKS5Options(metadata: Metadata()).bind)
    }
}
