import Shared
import TunnelAgent
import XCTest

/// `--relay`'s forms: the agent endpoint over TLS, or a WebSocket (ws/wss) with its path.
final class RelayEndpointTests: XCTestCase {
    func testTLSForms() throws {
        for text in ["relay.example.com:8443", "tls://relay.example.com:8443", "TLS://relay.example.com:8443"] {
            let e = try RelayEndpoint(parsing: text)
            XCTAssertEqual(e.transport, .tls, text)
            XCTAssertEqual(e.address, HostPort(host: "relay.example.com", port: 8443), text)
        }
    }

    func testWebSocketFormsWithDefaultPortsAndPath() throws {
        let ws = try RelayEndpoint(parsing: "ws://relay.example.com")
        XCTAssertEqual(ws, RelayEndpoint(transport: .ws, address: HostPort(host: "relay.example.com", port: 80), path: "/_tunnel/agent"))
        XCTAssertEqual(ws.hostHeader, "relay.example.com")
        XCTAssertEqual(ws.description, "ws://relay.example.com/_tunnel/agent")

        let wss = try RelayEndpoint(parsing: "wss://relay.example.com/")
        XCTAssertEqual(wss.address.port, 443)
        XCTAssertEqual(wss.path, "/_tunnel/agent")

        let custom = try RelayEndpoint(parsing: "wss://cdn.example.com:8443/edge/agents?x")
        XCTAssertEqual(custom.address, HostPort(host: "cdn.example.com", port: 8443))
        XCTAssertEqual(custom.path, "/edge/agents?x")
        XCTAssertEqual(custom.hostHeader, "cdn.example.com:8443")

        let v6 = try RelayEndpoint(parsing: "ws://[::1]:8080/_tunnel/agent")
        XCTAssertEqual(v6.address, HostPort(host: "::1", port: 8080))
        XCTAssertEqual(v6.hostHeader, "[::1]:8080")
        XCTAssertEqual(try RelayEndpoint(parsing: "ws://[::1]").address.port, 80)
    }

    func testRefusedForms() {
        for text in ["http://relay:80", "tls://relay:8443/path", "wss://user:pass@relay/x", "relay", "ws://:80/x", "relay:0"] {
            XCTAssertThrowsError(try RelayEndpoint(parsing: text), text)
        }
    }
}
