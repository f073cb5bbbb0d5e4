import Foundation
import Mux
import TunnelProtocol

/// The JSON the agent's admin API answers with, one type per schema of its OpenAPI document
/// (`AgentOpenAPI`; `Tunnel` is the relay's shape, `InspectorOpenAPI`'s): plain values taken
/// from snapshots, never live objects.
enum AgentViews {
    /// A tunnel this agent serves, with the relay sessions carrying it and its totals.
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

    /// A live session to the relay.
    struct Session: Codable, Sendable, Equatable {
        var id: String
        var relay: String
        var connectedAt: Date
        var rttMilliseconds: Double?
        var openStreams: Int
        var streamsTotal: Int
        var bytesIn: Int
        var bytesOut: Int
        var goingAway: Bool
        var tunnels: [String]

        init(_ session: MuxSession, _ info: LiveSessions.Info, relay: String) {
            id = info.id
            self.relay = relay
            connectedAt = info.connectedAt
            rttMilliseconds = session.smoothedRTT.map { Double($0.nanoseconds) / 1_000_000 }
            openStreams = session.openStreamCount
            streamsTotal = session.streamsTotal
            let bytes = session.byteCounts
            bytesIn = bytes.received
            bytesOut = bytes.sent
            goingAway = session.isGoingAway
            tunnels = info.tunnels
        }

        /// Every key is written, `null` where there is no value (the document lists them all).
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(relay, forKey: .relay)
            try c.encode(connectedAt, forKey: .connectedAt)
            try c.encode(rttMilliseconds, forKey: .rttMilliseconds)
            try c.encode(openStreams, forKey: .openStreams)
            try c.encode(streamsTotal, forKey: .streamsTotal)
            try c.encode(bytesIn, forKey: .bytesIn)
            try c.encode(bytesOut, forKey: .bytesOut)
            try c.encode(goingAway, forKey: .goingAway)
            try c.encode(tunnels, forKey: .tunnels)
        }
    }
}
