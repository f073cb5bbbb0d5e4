import Foundation
import NIOCore

/// The messages of the tunnel protocol that ride on Mux (see docs/tunnel.md). JSON, because they
/// are small, rare (once per session or stream) and worth reading in a packet capture.
public enum TunnelMessages {
    /// Protocol version carried in the agent's hello.
    public static let version = 1

    /// The ALPN ID agents offer in their TLS ClientHello and the agent endpoint accepts. It is how
    /// the relay's HTTPS port (shared with visitors) knows a connection is an agent's.
    public static let agentALPN = "tunnel-agent/1"
    /// Where the relay takes agents over WebSocket (on its HTTP entrypoint and terminated HTTPS).
    public static let agentWebSocketPath = "/_tunnel/agent"

    /// The agent's registration: metadata of the first stream it opens (the control stream).
    public struct Hello: Codable, Sendable, Equatable {
        public var v: Int
        public var token: String
        public var tunnels: [TunnelClaim]
        /// The agent's software and version (`tunnel-agent 0.15.0`), shown by the relay's API.
        public var agent: String?

        public init(token: String, tunnels: [TunnelClaim], agent: String? = nil) {
            self.v = TunnelMessages.version
            self.token = token
            self.tunnels = tunnels
            self.agent = agent
        }
    }

    /// One tunnel an agent serves: its ID and, optionally, hostnames it asks the relay to route to it.
    public struct TunnelClaim: Codable, Sendable, Equatable {
        public var id: String
        public var hostnames: [String]?
        /// TCP ports the relay should open for this tunnel (rtcp).
        public var ports: [Int]?
        /// UDP ports the relay should open for this tunnel (rudp).
        public var udpPorts: [Int]?
        /// This session's share of the tunnel's new streams, 1–255 (255: exclusive); 1 if absent.
        public var weight: Int?
        /// What the agent asks of the tunnel's visitors, on top of the relay's own policy (where
        /// its token allows).
        public var policy: VisitorPolicyConfig?

        /// The weight that takes a tunnel's new streams for itself (GOST's exclusive agent).
        public static let exclusiveWeight = 255

        public init(id: String, hostnames: [String]? = nil, ports: [Int]? = nil, udpPorts: [Int]? = nil, weight: Int? = nil, policy: VisitorPolicyConfig? = nil) {
            self.policy = policy
            self.id = id
            self.hostnames = hostnames
            self.ports = ports
            self.udpPorts = udpPorts
            self.weight = weight
        }
    }

    /// The relay's answer on the control stream, one JSON line.
    public struct Reply: Codable, Sendable, Equatable {
        public var ok: Bool
        public var error: String?

        public init(ok: Bool, error: String? = nil) {
            self.ok = ok
            self.error = error
        }
    }

    /// Metadata of every stream the relay opens towards an agent: which tunnel, who is calling.
    public struct StreamHeader: Codable, Sendable, Equatable {
        public var tunnel: String
        /// The public client's address, `ip:port`.
        public var client: String?
        /// The host the client asked for (HTTP Host or TLS SNI), if any.
        public var host: String?
        /// The relay address the client connected to, `ip:port` (the PROXY protocol's destination).
        public var server: String?

        public init(tunnel: String, client: String?, host: String?, server: String? = nil) {
            self.tunnel = tunnel
            self.client = client
            self.host = host
            self.server = server
        }
    }

    public static func encode<T: Encodable>(_ value: T) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data())
    }

    public static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }
}

import Mux

extension MuxConfiguration {
    /// The Mux settings of relay–agent sessions: every public connection of a tunnel is one
    /// stream, so a session must hold many (an idle stream costs about 1.2 KiB per side).
    public static var tunnel: MuxConfiguration {
        var c = MuxConfiguration()
        c.maxConcurrentStreams = 32_768
        c.observer = MuxMetrics()
        return c
    }
}
