import NIOCore
import XCTest

@testable import TunnelServer

/// The relay's agent path: which requests it takes, and the handshake checks.
final class AgentWebSocketRequestTests: XCTestCase {
    func head(_ lines: [String]) throws -> HTTPFraming.Head {
        try XCTUnwrap(try HTTPFraming.parseHead(ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n\r\n"), isRequest: true))
    }

    let valid = [
        "GET /_tunnel/agent HTTP/1.1", "Host: relay.example.com", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]

    func testRequestLinePrefix() {
        XCTAssertTrue(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "GE")))
        XCTAssertTrue(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "GET /_tunnel/agent HTTP/1.1\r\n")))
        XCTAssertTrue(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "GET /_tunnel/agent?x HTTP/1.1\r\n")))
        XCTAssertFalse(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "GET /_tunnel/agents HTTP/1.1\r\n")))
        XCTAssertFalse(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "POST /_tunnel/agent")))
        XCTAssertFalse(AgentWebSocketRequest.mayBeAgentRequest(ByteBuffer(string: "GET / HTTP/1.1")))
    }

    func testValidHandshakeIsAcceptedWithRFC6455sAcceptValue() throws {
        // RFC 6455 §1.3's example.
        XCTAssertEqual(AgentWebSocketRequest.decide(try head(valid)) { _ in true }, .accept(acceptValue: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    }

    func testAHostARuleRoutesKeepsItsPath() throws {
        XCTAssertEqual(AgentWebSocketRequest.decide(try head(valid)) { _ in false }, .route)
    }

    func testBrokenHandshakesAreRefused() throws {
        func refused(_ replace: (inout [String]) -> Void) throws -> Int? {
            var lines = valid
            replace(&lines)
            if case .refuse(let status, _) = AgentWebSocketRequest.decide(try head(lines), isRelayHost: { _ in true }) { return status }
            return nil
        }
        XCTAssertEqual(try refused { $0[5] = "Sec-WebSocket-Key: c2hvcnQ=" }, 400)
        XCTAssertEqual(try refused { $0[5] = "Sec-WebSocket-Key: not base64!!" }, 400)
        XCTAssertEqual(try refused { $0.remove(at: 5) }, 400)
        XCTAssertEqual(try refused { $0.append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==") }, 400)
        XCTAssertEqual(try refused { $0[4] = "Sec-WebSocket-Version: 8" }, 426)
        XCTAssertEqual(try refused { $0[2] = "Upgrade: h2c" }, 426)
        XCTAssertEqual(try refused { $0[3] = "Connection: keep-alive" }, 426)
        XCTAssertEqual(try refused { $0[0] = "GET /_tunnel/agent HTTP/1.0" }, 400)
    }

    func testSwitchingProtocolsAnswer() {
        let text = String(buffer: AgentWebSocketRequest.switchingProtocols(accept: "abc="))
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        XCTAssertTrue(text.contains("Sec-WebSocket-Accept: abc=\r\n"))
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"))
    }
}
