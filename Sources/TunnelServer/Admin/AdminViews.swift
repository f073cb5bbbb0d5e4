import Foundation
import Mux
import TunnelProtocol

/// The JSON the relay's admin API answers with, one type per schema of its OpenAPI document
/// (`RelayOpenAPI`): plain values taken from snapshots, never live objects.
enum AdminViews {
    struct Agent: Codable, Sendable, Equatable {
        var id: String
        var peer: String?
        var version: String?
        var token: String?
        var tunnels: [String]
        var connectedAt: Date
        var rttMilliseconds: Double?
        var openStreams: Int
        var streamsTotal: Int
        var bytesIn: Int
        var bytesOut: Int
        var goingAway: Bool

        init(_ session: MuxSession, _ info: LiveSessions.Info) {
            id = info.id
            peer = session.channel.remoteAddress.map { "\($0.hostPort)" }
            version = info.software
            token = info.principal
            tunnels = info.tunnels
            connectedAt = info.connectedAt
            rttMilliseconds = session.smoothedRTT.map { Double($0.nanoseconds) / 1_000_000 }
            openStreams = session.openStreamCount
            streamsTotal = session.streamsTotal
            let bytes = session.byteCounts
            bytesIn = bytes.received
            bytesOut = bytes.sent
            goingAway = session.isGoingAway
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(peer, forKey: .peer)
            try c.encode(version, forKey: .version)
            try c.encode(token, forKey: .token)
            try c.encode(tunnels, forKey: .tunnels)
            try c.encode(connectedAt, forKey: .connectedAt)
            try c.encode(rttMilliseconds, forKey: .rttMilliseconds)
            try c.encode(openStreams, forKey: .openStreams)
            try c.encode(streamsTotal, forKey: .streamsTotal)
            try c.encode(bytesIn, forKey: .bytesIn)
            try c.encode(bytesOut, forKey: .bytesOut)
            try c.encode(goingAway, forKey: .goingAway)
        }
    }

    struct Tunnel: Codable, Sendable, Equatable {
        var id: String
        var sessions: [String]
        var hostnames: [String]
        var openStreams: Int
        var streamsTotal: Int
        var bytesIn: Int
        var bytesOut: Int
        var requests: [String: Int]
    }

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
