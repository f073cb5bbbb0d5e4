import Foundation
import Mux
import Operations
import TunnelProtocol

/// The JSON the relay's admin API answers with, one type per schema of its OpenAPI document
/// (`RelayOpenAPI`): plain values taken from snapshots, never live objects.
enum AdminViews {
    /// An agent's session: the shared figures and who is on the other end.
    struct Agent: Codable, Sendable, Equatable {
        var figures: SessionFigures
        var peer: String?
        var version: String?
        var token: String?

        init(_ session: MuxSession, _ info: LiveSessions.Info) {
            figures = SessionFigures(session, info)
            peer = session.channel.remoteAddress.map { "\($0.hostPort)" }
            version = info.software
            token = info.principal
        }

        private enum CodingKeys: String, CodingKey { case peer, version, token }

        init(from decoder: any Decoder) throws {
            figures = try SessionFigures(from: decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            peer = try c.decodeIfPresent(String.self, forKey: .peer)
            version = try c.decodeIfPresent(String.self, forKey: .version)
            token = try c.decodeIfPresent(String.self, forKey: .token)
        }

        /// The figures' keys and these in one object, `null` where there is no value.
        func encode(to encoder: any Encoder) throws {
            try figures.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(peer, forKey: .peer)
            try c.encode(version, forKey: .version)
            try c.encode(token, forKey: .token)
        }
    }

    typealias Tunnel = TunnelSummary

    struct Rule: Codable, Sendable, Equatable {
        var hostname: String
        var tunnel: String
        var source: String
    }

    /// `POST /rules`.
    struct NewRule: Codable, Sendable {
        var hostname: String
        var tunnel: String
    }

    struct Port: Codable, Sendable, Equatable {
        var port: Int
        var udp: Bool
        var tunnel: String
    }

    struct Drained: Codable, Sendable {
        var sessions: Int
    }
}
