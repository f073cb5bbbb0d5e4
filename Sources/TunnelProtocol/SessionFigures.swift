import Foundation
import Mux

/// What both admin APIs show of a live Mux session (the relay's `Agent`, the agent's `Session`):
/// taken from the session and its `LiveSessions.Info` at one moment, a plain value.
///
/// Each view adds its own keys beside these in the same JSON object; every key is written,
/// `null` where there is no value, because the OpenAPI documents list them all as required.
public struct SessionFigures: Codable, Sendable, Equatable {
    public var id: String
    public var tunnels: [String]
    public var connectedAt: Date
    public var rttMilliseconds: Double?
    public var openStreams: Int
    public var streamsTotal: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var goingAway: Bool

    public init(_ session: MuxSession, _ info: LiveSessions.Info) {
        id = info.id
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

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
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
