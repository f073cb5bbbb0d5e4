import Foundation
import Logging
import XCTest

@testable import Shared

final class ConfigTests: XCTestCase {
    let builder = EngineBuilder(logger: Logger(label: "test"))

    func testSeedMultiLevelChainParses() throws {
        let yaml = """
            services:
            - name: service-0
              addr: ":8080"
              handler:
                type: auto
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                selector: {strategy: fifo, maxFails: 3, failTimeout: 30s}
                nodes:
                - name: node-0
                  addr: 192.168.1.1:8080
                  connector:
                    type: http
                    auth: {username: u, password: 1234}
                  dialer:
                    type: tcp
              - name: hop-1
                nodes:
                - name: node-0
                  addr: 192.168.1.2:1080
                  connector:
                    type: socks5
                  dialer:
                    type: tls
                    tls: {serverName: relay, secure: true}
            """
        let config = try ConfigLoader.parse(yaml)
        XCTAssertEqual(config.chains?[0].hops[0].nodes[0].connector?.auth?.password, "1234")
        let services = try builder.build(config)
        XCTAssertEqual(services.count, 1)
        let chain = try XCTUnwrap(services[0].context.router.chain)
        XCTAssertEqual(chain.hops.map(\.name), ["hop-0", "hop-1"])
        XCTAssertEqual(chain.hops[0].selector.options.strategy, .fifo)
        XCTAssertEqual(chain.hops[0].selector.options.maxFails, 3)
        XCTAssertEqual(chain.hops[0].selector.options.failTimeout, .seconds(30))
        XCTAssertTrue(chain.hops[1].selector.nodes[0].dialer is TLSDialer)
        XCTAssertTrue(chain.hops[1].selector.nodes[0].connector is SOCKS5Connector)
    }

    /// Metadata is free-form, so unknown keys are reported (with their paths), not refused; a
    /// key a URL put in both the handler's and the listener's metadata is reported once.
    func testUnknownMetadataKeysAreReportedWithTheirPaths() throws {
        let yaml = """
            services:
            - addr: ":1080"
              metadata: {ttl: 5s, colour: blue}
              handler: {type: udp, metadata: {maxSession: 10, maxSessions: 10}}
              listener: {type: udp, metadata: {maxSession: 10, readBufferSize: 4096}}
            chains:
            - name: c
              hops:
              - nodes:
                - addr: relay:8443
                  connector: {type: http, metadata: {tunnel.ids: x}}
                  dialer: {type: tls, metadata: {secure: true, tunnel.ids: x, serverNam: relay}}
            """
        let config = try ConfigLoader.parse(yaml)
        XCTAssertEqual(config.unknownMetadataKeys(known: Registry.standard.metadataKeys), [
            "services[0].metadata.colour",
            "services[0].handler.metadata.maxSession",
            "services[0].listener.metadata.readBufferSize",
            "chains[0].hops[0].nodes[0].connector.metadata.tunnel.ids",
            "chains[0].hops[0].nodes[0].dialer.metadata.serverNam",
        ])
        let url = try ConfigLoader.parse("services:\n- addr: :1\n  handler: {type: socks5, metadata: {udp: true, bnd: true}}\n  listener: {type: tcp, metadata: {udp: true, bnd: true}}\n")
        XCTAssertEqual(url.unknownMetadataKeys(known: Registry.standard.metadataKeys), ["services[0].handler.metadata.bnd"])
    }

    func testUnknownKeysCarryTheirPath() {
        XCTAssertThrowsError(try ConfigLoader.parse("services:\n- addr: :1\n  handler: {type: http}\n  listener: {type: tcp, tsl: {}}\n")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "services[0].listener.tsl")
        }
        XCTAssertThrowsError(try ConfigLoader.parse("servics: []\n")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "servics")
        }
        XCTAssertThrowsError(try ConfigLoader.parse("chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n      dialer: {type: tls, tls: {secure: maybe}}\n")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "chains[0].hops[0].nodes[0].dialer.tls.secure")
        }
    }

    func testReferencesAndTypesAreChecked() throws {
        func refuse(_ yaml: String, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try builder.build(ConfigLoader.parse(yaml)), file: file, line: line) { error in
                XCTAssertEqual((error as? ConfigError)?.path, path, "\(error)", file: file, line: line)
            }
        }
        refuse("services:\n- addr: :1\n  handler: {type: http, chain: chain-1}\n  listener: {type: tcp}\n", "services[0].handler.chain")
        refuse("services:\n- addr: :1\n  handler: {type: foo}\n  listener: {type: tcp}\n", "services[0].handler.type")
        refuse("services:\n- addr: :1\n  handler: {type: http}\n  listener: {type: foo}\n", "services[0].listener.type")
        refuse("services:\n- addr: nope\n  handler: {type: http}\n  listener: {type: tcp}\n", "services[0].addr")
        refuse("services:\n- addr: :1\n  handler: {type: tcp}\n  listener: {type: tcp}\n  forwarder: {nodes: [{name: a, addr: 'b'}]}\n", "services[0].forwarder.nodes[0].addr")
        refuse("chains:\n- name: c\n  hops:\n  - name: h\n    selector: {strategy: best}\n    nodes: [{name: n, addr: 'a:1'}]\n", "chains[0].hops[0].selector.strategy")
        refuse("chains:\n- name: c\n  hops:\n  - name: h\n    nodes: [{name: n, addr: 'a:1', dialer: {type: quic}}]\n", "chains[0].hops[0].nodes[0].dialer.type")
        refuse("chains:\n- {name: c, hops: []}\n- {name: c, hops: []}\n", "chains[1].name")
    }

    func testEmptyFileIsAnEmptyConfig() throws {
        XCTAssertEqual(try ConfigLoader.parse("  \n"), Config())
    }

    /// What a missing key means (GOST's defaults) and which values are text whatever YAML made of
    /// them, now declared on the types (`@OrDefault`, `TextKeys`) instead of hand-written.
    func testMissingKeysTakeGOSTDefaultsAndAddressesAreText() throws {
        let config = try ConfigLoader.parse("""
            services:
            - addr: 8080
              forwarder: {}
            chains:
            - name: c
            - name: d
              hops:
              - selector: {failTimeout: 30}
                nodes: [{addr: 10, connector: {type: http, auth: {password: 1234}}}]
            """)
        let service = try XCTUnwrap(config.services?.first)
        XCTAssertEqual(service, ServiceConfig(name: "", addr: "8080", handler: HandlerConfig(type: "auto"), listener: ListenerConfig(type: "tcp"), forwarder: ForwarderConfig(nodes: [])))
        XCTAssertEqual(config.chains?[0], ChainConfig(name: "c", hops: []))
        XCTAssertEqual(config.chains?[1].hops[0].name, "")
        XCTAssertEqual(config.chains?[1].hops[0].selector?.failTimeout, "30")
        XCTAssertEqual(config.chains?[1].hops[0].nodes[0].addr, "10")
        XCTAssertEqual(config.chains?[1].hops[0].nodes[0].connector?.auth, Credentials(username: "", password: "1234"))
        for (yaml, expected) in [
            ("services:\n- addr: {a: 1}\n", "services[0].addr: wrong type, expected text"),
            ("services:\n- addr: :1\n  handler: {type: http, auth: {password: [1]}}\n", "services[0].handler.auth.password: wrong type, expected text"),
            ("chains:\n- name: c\n  hops:\n  - selector: {failTimeout: {a: 1}}\n", "chains[0].hops[0].selector.failTimeout: wrong type, expected text"),
            ("services:\n- addr: :1\n  handler: {type: http, auths: [{username: a}, {user: b}]}\n", "services[0].handler.auths[1].user: unknown key \"user\" (known here: password, username)"),
        ] {
            XCTAssertThrowsError(try ConfigLoader.parse(yaml)) { XCTAssertEqual("\($0)", expected) }
        }
    }

    /// `-O json` prints a decoded config as it always has: the fields with defaults as bare values.
    func testDecodedConfigEncodesAsBefore() throws {
        let config = try ConfigLoader.parse("services:\n- addr: :1\n  handler: {type: http, auth: {username: u}}\n")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        XCTAssertEqual(String(decoding: try encoder.encode(config), as: UTF8.self),
                       #"{"services":[{"addr":":1","handler":{"auth":{"password":"","username":"u"},"type":"http"},"listener":{"type":"tcp"},"name":""}]}"#)
    }
}
