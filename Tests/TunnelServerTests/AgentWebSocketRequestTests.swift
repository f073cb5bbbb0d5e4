import NIOCore
import Shared
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

    // MARK: the ingress hands the connection over

    typealias S = HTTPIngressScript
    static let upgrade = "GET /_tunnel/agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

    func relayPath(routes: [String: String] = ["a.test": "ta", "b.test": "tb"]) -> ReservedRequests {
        ReservedRequests(tokens: nil, redirects: { _ in false }, httpsPort: nil, agentPath: { head in
            AgentWebSocketRequest.decide(head) { host in routes[host] == nil }
        })
    }

    func testFirstRequestIsHandedOverWithWhatFollowed() {
        var s = S()
        let r = relayPath()
        s.machine.reserved = { r.answer($0) }
        XCTAssertEqual(s.client(Self.upgrade + "\u{16}\u{03}"), ["handOver:" + Self.upgrade + "\u{16}\u{03}"])
        // Nothing more happens on this machine: the connection is no longer the ingress's.
        XCTAssertEqual(s.client("more"), [])
    }

    /// A keep-alive connection (a reverse proxy's pooled upstream connection): after an answer
    /// is complete, the agent's request takes the connection, and the tunnel's stream is let go.
    func testLaterRequestOnAKeptAliveConnectionIsHandedOver() {
        var s = S()
        let r = relayPath()
        s.machine.reserved = { r.answer($0) }
        XCTAssertEqual(s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"), ["open(ta,a.test)"])
        _ = s.opened()
        _ = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(s.client(Self.upgrade), ["closeUp(1)", "handOver:" + Self.upgrade])
    }

    func testPipelinedBehindAnOwedAnswerIsRefused() {
        var s = S()
        let r = relayPath()
        s.machine.reserved = { r.answer($0) }
        _ = s.client("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        _ = s.opened()
        XCTAssertEqual(s.client(Self.upgrade), ["flushUp"])
        let answer = s.origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertTrue(answer.contains("page:HTTP/1.1 400 Bad Request"), "\(answer)")
        XCTAssertFalse(answer.contains { $0.hasPrefix("handOver") }, "\(answer)")
    }

    func testATunnelsOwnPathAndBrokenHandshakes() {
        let r = relayPath()
        var s = S()
        s.machine.reserved = { r.answer($0) }
        // Host a.test is a tunnel's: its /_tunnel/agent goes to it.
        XCTAssertEqual(s.client("GET /_tunnel/agent HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), ["open(ta,a.test)"])
        var t = S()
        t.machine.reserved = { r.answer($0) }
        XCTAssertEqual(t.client("GET /_tunnel/agent HTTP/1.1\r\nHost: relay\r\n\r\n"), ["page:HTTP/1.1 426 Upgrade Required"])
    }
}
