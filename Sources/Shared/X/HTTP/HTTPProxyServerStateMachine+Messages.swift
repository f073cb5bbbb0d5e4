import NIOCore
import NIOHTTP1

/// The message rewrites the proxy makes on the way through. Pure functions of a head, kept next
/// to the machine that decides when they apply so its tests can check exactly what is sent.
extension HTTPProxyServerStateMachine {
    /// Why a request is answered by the proxy itself, and with what.
    enum Failure: Equatable {
        case authenticationRequired
        case connectTargetInvalid
        case notAbsoluteForm
        case unreachable(target: HostPort, reason: String, timedOut: Bool)
        case malformed(HTTPParserError)

        var status: HTTPResponseStatus {
            switch self {
            case .authenticationRequired: return .proxyAuthenticationRequired
            case .connectTargetInvalid, .notAbsoluteForm: return .badRequest
            case .unreachable(_, _, let timedOut): return timedOut ? .gatewayTimeout : .badGateway
            case .malformed(.headerOverflow): return .requestHeaderFieldsTooLarge
            case .malformed: return .badRequest
            }
        }

        var message: String {
            switch self {
            case .authenticationRequired: return "proxy authentication required"
            case .connectTargetInvalid: return "CONNECT needs host:port"
            case .notAbsoluteForm: return "this is a proxy: send absolute-form requests (http://host/path) or CONNECT"
            case .unreachable(let target, let reason, _): return "cannot reach \(target): \(reason)"
            case .malformed(.headerOverflow): return "request header fields larger than the limit"
            case .malformed(let error): return "malformed request: \(error)"
            }
        }

        var extraHeaders: [(String, String)] {
            if case .authenticationRequired = self { return [("Proxy-Authenticate", "Basic realm=\"proxy\"")] }
            return []
        }
    }

    /// The head the origin gets for an absolute-form request: origin-form path, without the
    /// proxy's own headers, and with a `Host` when the client gave none.
    static func originRequestHead(_ head: HTTPRequestHead, target: HostPort, path: String) -> HTTPRequestHead {
        var forwarded = head
        forwarded.uri = path
        forwarded.headers.remove(name: "Proxy-Authorization")
        forwarded.headers.remove(name: "Proxy-Connection")
        if !forwarded.headers.contains(name: "Host") {
            forwarded.headers.add(name: "Host", value: target.port == 80 ? target.host : "\(target)")
        }
        return forwarded
    }

    /// The head the client gets. Its connection is ours to keep: answer in HTTP/1.1 (the encoder
    /// re-frames a close-delimited body as chunked), drop the origin's hop-by-hop headers, and say
    /// `close` when the client asked for it.
    static func clientResponseHead(_ head: HTTPResponseHead, keepAlive: Bool) -> HTTPResponseHead {
        var out = HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)
        for name in ["Connection", "Keep-Alive", "Proxy-Connection"] { out.headers.remove(name: name) }
        if !keepAlive { out.headers.add(name: "Connection", value: "close") }
        return out
    }

    /// Splits `http://host[:port]/path?q` into a target and an origin-form path.
    static func parseAbsolute(_ uri: String) -> (HostPort, String)? {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst(7)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = String(rest[..<slash])
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        var path = String(rest[slash...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        let target: HostPort
        if let parsed = try? HostPort(parsing: authority), !parsed.host.isEmpty {
            target = parsed
        } else if !authority.isEmpty, !authority.contains(":") || authority.hasPrefix("[") {
            let host = authority.hasPrefix("[") ? String(authority.dropFirst().dropLast()) : authority
            target = HostPort(host: host, port: 80)
        } else {
            return nil
        }
        return (target, path)
    }
}
