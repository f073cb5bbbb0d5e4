import Logging
import NIOCore

/// Asks an HTTP proxy for a tunnel with `CONNECT host:port` (RFC 9110 §9.3.6).
///
/// Written on `Handshake` rather than NIOHTTP1ProxyConnectHandler so all connectors share one way
/// to hand bytes that arrive right after the reply to the next stage of the chain.
public struct HTTPConnector: Connector {
    public var auth: Credentials?

    public init(options: ComponentOptions = ComponentOptions()) {
        self.auth = options.auth
    }

    public func connect(_ io: Handshake, to target: HostPort, logger: Logger) async throws {
        var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\nProxy-Connection: keep-alive\r\n"
        if let auth {
            request += "Proxy-Authorization: Basic \(auth.basicToken)\r\n"
        }
        request += "\r\n"
        try await io.write(request)
        let response = try await io.read { try HTTPHead.readResponse(&$0) }
        guard (200..<300).contains(response.status) else {
            // 407 is the standard answer; some proxies (tinyproxy) answer a CONNECT with 401.
            let auth = response.status == 407 || response.status == 401
            let hint = auth ? (self.auth == nil ? " (the proxy wants a user and password: http://user:pass@host:port)" : " (the proxy refused this user and password)") : ""
            throw EngineError(auth ? .authenticationFailed : .connectFailed, "HTTP proxy refused CONNECT \(target): \(response.status) \(response.reason)\(hint)")
        }
    }
}
