import Crypto
import Foundation
import NIOCore
import Shared
import TunnelProtocol

/// Agents over WebSocket: `GET /_tunnel/agent` with `Upgrade: websocket` on the relay's HTTP
/// entrypoint (`--public-addr`) or its HTTPS port, for agents that can only reach the relay
/// through an HTTP proxy, a reverse proxy or a CDN. After the 101 the connection carries the
/// agent's TLS (to the agent endpoint's certificate) in binary frames, and goes to the same attach
/// logic as an agent on the TLS port (`AgentAttachPoint`).
///
/// The path must not take a page away from a tunnel: it is the relay's only when the request's
/// `Host` is one of the relay's own names, or is a name no ingress rule routes. A tunnel whose
/// hostname serves its own `/_tunnel/agent` keeps it. The HTTP ingress asks per request
/// (`ReservedRequests`), so the request may also come on a connection kept alive after others (a
/// proxy's pooled upstream connection): the ingress hands the connection over once the earlier
/// answers are complete.
///
/// The handshake is answered here, from the head the relay's own HTTP framing parsed, rather
/// than by NIO's server upgrader, which would need NIO's HTTP decoder to re-read the head: the
/// checks are RFC 6455 §4.2.1's (GET, HTTP/1.1, `Upgrade: websocket`, `Connection: upgrade`, a
/// `Sec-WebSocket-Key` of 16 bytes in base64, `Sec-WebSocket-Version: 13`), the accept value is
/// §4.2.2's, and the frame decoder that follows limits frames to
/// `WebSocketByteStreamHandler.maxInboundFrame`.
enum AgentWebSocketRequest {
    static let path = TunnelMessages.agentWebSocketPath
    static let requestLinePrefix = "GET " + path
    /// RFC 6455 §1.3.
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Whether a request's first bytes can still be (or are) the agent's request line: a cheap
    /// test on the start line before the headers are looked at.
    static func mayBeAgentRequest(_ buffer: ByteBuffer) -> Bool {
        let prefix = Array(requestLinePrefix.utf8)
        let view = buffer.readableBytesView
        for (i, byte) in view.prefix(prefix.count + 1).enumerated() {
            if i < prefix.count {
                guard byte == prefix[i] else { return false }
            } else {
                // `GET /_tunnel/agent ` or `GET /_tunnel/agent?…`, not `GET /_tunnel/agents`.
                return byte == UInt8(ascii: " ") || byte == UInt8(ascii: "?")
            }
        }
        return true
    }

    /// What the relay does with a complete head whose request line is the agent path's.
    enum Decision: Equatable {
        /// Not the relay's: route it as any request (a tunnel's own page at that path).
        case route
        /// The relay's, but not a valid WebSocket handshake: answer this and close.
        case refuse(status: Int, reason: String)
        /// Answer 101 with this `Sec-WebSocket-Accept`, then frames.
        case accept(acceptValue: String)
    }

    /// `isRelayHost`: whether the `Host` names the relay itself or no rule routes it.
    static func decide(_ head: HTTPFraming.Head, isRelayHost: (String) -> Bool) -> Decision {
        guard let host = head.host, isRelayHost(host) else { return .route }
        guard head.method == "GET", !head.http10 else {
            return .refuse(status: 400, reason: "the agent path takes a WebSocket upgrade: GET over HTTP/1.1")
        }
        guard head.headerValues("upgrade").contains(where: { $0.lowercased() == "websocket" }),
            head.headerValues("connection").flatMap({ $0.split(separator: ",") }).contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == "upgrade" })
        else {
            return .refuse(status: 426, reason: "the agent path takes a WebSocket upgrade (Upgrade: websocket, Connection: upgrade)")
        }
        guard head.headerValues("sec-websocket-version") == ["13"] else {
            return .refuse(status: 426, reason: "WebSocket version 13 only")
        }
        let keys = head.headerValues("sec-websocket-key")
        guard keys.count == 1, let decoded = Data(base64Encoded: keys[0]), decoded.count == 16 else {
            return .refuse(status: 400, reason: "Sec-WebSocket-Key must be 16 bytes in base64")
        }
        return .accept(acceptValue: acceptValue(for: keys[0]))
    }

    static func acceptValue(for key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + acceptGUID).utf8))
        return Data(digest).base64EncodedString()
    }

    static func switchingProtocols(accept: String) -> ByteBuffer {
        ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n")
    }

    static func refusal(status: Int, reason: String) -> ByteBuffer {
        let phrase = status == 426 ? "Upgrade Required" : (status == 503 ? "Service Unavailable" : "Bad Request")
        let extra = status == 426 ? ["Sec-WebSocket-Version: 13", "Upgrade: websocket"] : []
        return ReservedRequests.response(status, phrase, headers: extra + ["Content-Type: text/plain"], body: reason + "\n")
    }
}

extension HTTPFraming.Head {
    /// The values of every header line named `name` (lowercase), spaces trimmed.
    func headerValues(_ name: String) -> [String] {
        var values: [String] = []
        for index in lineRanges.indices.dropFirst() {
            let r = lineRanges[index]
            guard let line = bytes.getString(at: bytes.readerIndex + r.lowerBound, length: r.count), let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name { values.append(value(ofLine: index)) }
        }
        return values
    }
}
