import NIOCore
import Shared

/// The plain-HTTP requests the relay answers itself instead of routing them to a tunnel:
/// - `GET /.well-known/acme-challenge/<token>` for a token of the relay's own ACME order in
///   flight (any other token goes to the tunnel, so a local service can run its own HTTP-01);
/// - with the redirect on (`--redirect-https`, or the rule's `redirectHTTPS`), every other
///   request for a host the relay holds a certificate for: 308 to `https://` (308, not 301, so a
///   POST stays a POST);
/// - an agent's WebSocket on `/_tunnel/agent` (`AgentWebSocketRequest`, on HTTPS too): the
///   connection is taken over for the agent endpoint, or the broken handshake answered.
struct ReservedRequests: Sendable {
    var tokens: ACMEHTTPTokens?
    /// Whether requests for this host are redirected to HTTPS.
    var redirects: @Sendable (String) -> Bool
    /// The port the redirect names (none when it is 443).
    var httpsPort: Int?
    /// Whether a request on the agent path is the relay's (nil: the relay takes no agents here).
    var agentPath: (@Sendable (HTTPFraming.Head) -> AgentWebSocketRequest.Decision)? = nil

    func answer(_ head: HTTPFraming.Head) -> HTTPIngressStateMachine.ReservedAnswer? {
        if let agentPath, AgentWebSocketRequest.mayBeAgentRequest(head.bytes) {
            switch agentPath(head) {
            case .route: break
            case .refuse(let status, let reason): return .respond(AgentWebSocketRequest.refusal(status: status, reason: reason))
            case .accept: return .takeOver
            }
        }
        let target = head.requestTarget
        if target.hasPrefix(ACMEHTTPTokens.pathPrefix), let tokens {
            let token = String(target.dropFirst(ACMEHTTPTokens.pathPrefix.count))
            if let answer = tokens.keyAuthorization(for: token) {
                return .respond(Self.response(200, "OK", headers: ["Content-Type: application/octet-stream"], body: answer))
            }
            return nil
        }
        guard let host = head.host, redirects(host), target.hasPrefix("/") else { return nil }
        let name = HostTable<String>.hostName(host)
        let port = httpsPort.map { $0 == 443 ? "" : ":\($0)" } ?? ""
        let location = "https://\(name)\(port)\(target)"
        return .respond(Self.response(308, "Permanent Redirect", headers: ["Location: \(location)", "Content-Type: text/plain"], body: "Moved to \(location)\n"))
    }

    static func response(_ code: Int, _ reason: String, headers: [String], body: String) -> ByteBuffer {
        var head = "HTTP/1.1 \(code) \(reason)\r\n"
        for h in headers { head += h + "\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        return ByteBuffer(string: head + body)
    }
}

extension HTTPFraming.Head {
    /// The request target of the start line (`/path?query`), empty for a response.
    var requestTarget: Substring {
        guard let first = lineRanges.first else { return "" }
        let line = bytes.getString(at: bytes.readerIndex + first.lowerBound, length: first.count) ?? ""
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 ? parts[1] : ""
    }
}
