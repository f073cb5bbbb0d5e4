import Foundation
import Mux
import Shared

/// `GET /api/cluster`: the members, which relay holds which tunnel, and the peer sessions with
/// the streams (hops) they carried. A relay outside a cluster answers `enabled: false`.
struct ClusterReport: Codable, Sendable, Equatable {
    struct Member: Codable, Sendable, Equatable {
        var id: String
        var peerAddr: String?
        var advertise: String
        var version: String
        var startedAt: Date
        /// This relay.
        var me: Bool

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(peerAddr, forKey: .peerAddr)
            try c.encode(advertise, forKey: .advertise)
            try c.encode(version, forKey: .version)
            try c.encode(startedAt, forKey: .startedAt)
            try c.encode(me, forKey: .me)
        }
    }

    struct Holding: Codable, Sendable, Equatable {
        var tunnel: String
        /// The relays with agent sessions of it (this one included).
        var relays: [String]
    }

    struct Peer: Codable, Sendable, Equatable {
        /// `out`: a session this relay opened to carry visitors to `relay`; `in`: one a peer
        /// opened to carry visitors here.
        var direction: String
        /// The peer's relay ID (known for `out` only).
        var relay: String?
        var address: String?
        var openStreams: Int
        /// Streams over the session's life: the hops made on it.
        var streamsTotal: Int
        var bytesIn: Int
        var bytesOut: Int

        init(direction: String, relay: String?, session: MuxSession) {
            self.direction = direction
            self.relay = relay
            address = session.channel.remoteAddress.map { "\($0.hostPort)" }
            openStreams = session.openStreamCount
            streamsTotal = session.streamsTotal
            let bytes = session.byteCounts
            bytesIn = bytes.received
            bytesOut = bytes.sent
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(direction, forKey: .direction)
            try c.encode(relay, forKey: .relay)
            try c.encode(address, forKey: .address)
            try c.encode(openStreams, forKey: .openStreams)
            try c.encode(streamsTotal, forKey: .streamsTotal)
            try c.encode(bytesIn, forKey: .bytesIn)
            try c.encode(bytesOut, forKey: .bytesOut)
        }
    }

    var enabled: Bool
    var relay: String?
    var members: [Member]
    var tunnels: [Holding]
    var peers: [Peer]

    static let disabled = ClusterReport(enabled: false, relay: nil, members: [], tunnels: [], peers: [])

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(relay, forKey: .relay)
        try c.encode(members, forKey: .members)
        try c.encode(tunnels, forKey: .tunnels)
        try c.encode(peers, forKey: .peers)
    }
}
