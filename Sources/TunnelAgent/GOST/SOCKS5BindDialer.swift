import Logging
import NIOCore
import Shared
import TunnelProtocol

/// The agent's way to a relay's `socks5` service (GOST's rtcp/rudp through a SOCKS5 node): dials
/// the node with `transport`, authenticates (RFC 1929 when credentials are set) and sends the
/// private mux-bind request for one port. What it returns is the connection, ready for the Mux
/// session, so `TunnelClient` runs over it unchanged (and reconnects with its backoff).
public struct SOCKS5BindDialer: Dialer {
    public var transport: any Dialer
    public var credentials: Credentials?
    public var port: Int
    public var udp: Bool

    public init(transport: any Dialer, credentials: Credentials?, port: Int, udp: Bool) {
        self.transport = transport
        self.credentials = credentials
        self.port = port
        self.udp = udp
    }

    public func dial(_ address: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        let io = try await transport.dial(address, on: eventLoop, logger: logger)
        do {
            try await SOCKS5Connector(options: ComponentOptions(auth: credentials)).negotiate(io)
            try await io.write(SOCKS5MuxBind.request(port: port, udp: udp).encoded)
            let reply = try await SOCKS5Connector.readReply(io)
            guard reply.code == 0x00 else {
                var reason = SOCKS5Connector.describe(reply: reply.code)
                if reply.code == 0x07 { reason += " (is bind=true set on the relay's socks5 service?)" }
                throw EngineError(
                    SOCKS5Connector.kind(ofReply: reply.code),
                    "SOCKS5 relay \(address) refused to bind \(udp ? "udp" : "tcp") port \(port): \(reason)")
            }
            return io
        } catch {
            io.close()
            throw error
        }
    }
}
