import Logging
import NIOCore
import Shared

/// The agent's way to its relay, in layers: a TCP connection, directly or through the engine's
/// chain (`-F http://user:pass@proxy:3128`, `-F socks5://…`, a YAML chain: each hop's connector
/// asks for the next, the last for the relay); then, for `wss://`, TLS to whoever terminates the
/// HTTPS (the relay's HTTPS port, a reverse proxy, a CDN); then, for `ws://`/`wss://`, the
/// WebSocket handshake on the relay's agent path; and always the agent's own TLS to the relay's
/// agent endpoint (ALPN `tunnel-agent/1`, the pin or CA checked), over which the Mux session runs.
public struct RelayDialer: Dialer {
    public var endpoint: RelayEndpoint
    /// The chain to the relay (nil or empty: dialed directly).
    public var router: Router
    /// The agent's TLS to the relay's agent endpoint.
    public var tls: TLSDialer
    /// TLS of a `wss://` endpoint (outer HTTPS), verified against the system's roots or a CA file.
    public var outerTLS: TLSDialer?

    public init(endpoint: RelayEndpoint, router: Router = Router(), tls: TLSDialer, outerTLS: TLSDialer? = nil) {
        self.endpoint = endpoint
        self.router = router
        self.tls = tls
        self.outerTLS = outerTLS
    }

    /// The outer TLS a `wss://` endpoint needs (nil for the others): HTTP/1.1 by ALPN, verified
    /// against the system's roots or `caFile`.
    public static func outerTLS(for transport: RelayEndpoint.Transport, caFile: String?) throws -> TLSDialer? {
        guard transport == .wss else { return nil }
        var options = TLSOptions(caFile: caFile, secure: true)
        options.applicationProtocols = ["http/1.1"]
        return try TLSDialer(options: options)
    }

    /// Dials `address` (the endpoint's, or a GOST node's) as the endpoint says.
    public func dial(_ address: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        if endpoint.transport == .tls, router.chain?.hops.isEmpty ?? true {
            return try await tls.dial(address, on: eventLoop, logger: logger)
        }
        var io = try await router.dial(address, on: eventLoop, logger: logger)
        do {
            if endpoint.transport == .wss {
                guard let outerTLS else { throw EngineError(.unsupported, "wss:// needs its TLS settings") }
                io = try await outerTLS.secure(io, address: address, logger: logger)
            }
            if endpoint.transport != .tls {
                var host = endpoint
                host.address = address
                io = try await WebSocketClientUpgrade.upgrade(io, host: host.hostHeader, path: endpoint.path)
            }
            return try await tls.secure(io, address: address, logger: logger)
        } catch {
            io.close()
            throw error
        }
    }
}
