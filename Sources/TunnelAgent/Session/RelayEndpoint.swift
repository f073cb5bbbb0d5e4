import Shared
import TunnelProtocol

/// Where and how the agent reaches its relay, as `--relay` spells it:
/// - `host:port` or `tls://host:port`: TLS over TCP to the relay's agent endpoint (or its HTTPS
///   port, which recognises agents by their ALPN);
/// - `ws://host[:port][/path]`: a WebSocket over plain HTTP, to the relay's HTTP entrypoint or a
///   proxy in front of it (default port 80);
/// - `wss://host[:port][/path]`: a WebSocket over HTTPS, to the relay's HTTPS port, a reverse
///   proxy or a CDN (default port 443).
///
/// The WebSocket path defaults to the relay's reserved agent path, `/_tunnel/agent`. Inside a
/// WebSocket the agent still speaks TLS to the relay's agent endpoint (checked with `--pin` or
/// `--ca` as over TCP), so a proxy or CDN that terminates the outer HTTPS sees only ciphertext.
public struct RelayEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: String, Sendable, Equatable {
        case tls
        case ws
        case wss
    }

    /// The relay's reserved path for agents over WebSocket.
    public static let defaultPath = TunnelMessages.agentWebSocketPath

    public var transport: Transport
    public var address: HostPort
    /// The request path of the WebSocket handshake (ws/wss only).
    public var path: String

    public init(transport: Transport, address: HostPort, path: String = RelayEndpoint.defaultPath) {
        self.transport = transport
        self.address = address
        self.path = path
    }

    /// Parses `--relay`'s value; errors say what form is expected.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        var transport = Transport.tls
        if let r = rest.range(of: "://") {
            let scheme = rest[..<r.lowerBound].lowercased()
            guard let t = Transport(rawValue: scheme) else {
                throw EngineError(.unsupported, "--relay takes host:port, tls://host:port, ws://host[:port]/path or wss://host[:port]/path; got scheme \"\(scheme)\"")
            }
            transport = t
            rest = rest[r.upperBound...]
        }
        var path = Self.defaultPath
        if let slash = rest.firstIndex(of: "/") {
            guard transport != .tls else {
                throw EngineError(.unsupported, "--relay: a path is only for ws:// and wss:// (got \"\(text)\")")
            }
            let given = String(rest[slash...])
            if given != "/" { path = given }
            rest = rest[..<slash]
        }
        guard !rest.contains("@"), !rest.contains("?") else {
            throw EngineError(.unsupported, "--relay: no user or query in the relay's address (got \"\(text)\"); give the token with --token and proxies with -F")
        }
        var authority = String(rest)
        if transport != .tls, !Self.hasPort(authority) {
            authority += transport == .ws ? ":80" : ":443"
        }
        let address = try HostPort(parsing: authority)
        guard !address.host.isEmpty, address.port > 0 else {
            throw EngineError(.unsupported, "--relay needs a host and a port (got \"\(text)\")")
        }
        self.init(transport: transport, address: address, path: path)
    }

    /// Whether `authority` ends in `:port` (an IPv6 literal is bracketed).
    static func hasPort(_ authority: String) -> Bool {
        if authority.hasPrefix("[") { return authority.contains("]:") }
        return authority.contains(":")
    }

    /// The `Host` header of the WebSocket handshake: the name, with the port unless it is the default.
    public var hostHeader: String {
        let defaultPort = transport == .wss ? 443 : 80
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        return address.port == defaultPort ? host : "\(host):\(address.port)"
    }

    public var description: String {
        switch transport {
        case .tls: return "\(address)"
        case .ws, .wss: return "\(transport.rawValue)://\(hostHeader)\(path)"
        }
    }
}
