import Mux
import Shared

/// One agent session at one moment, as the directory (per tunnel) and the relay (every session)
/// show it.
public struct SessionSnapshot: Sendable, Equatable, Codable {
    /// The agent's address as the relay sees it.
    public var peer: String?
    /// Its share of a tunnel's new streams (1-255; 255 = exclusive); nil outside a tunnel.
    public var weight: Int?
    public var openStreams: Int
    /// Smoothed round-trip time of the session's pings, in milliseconds (nil before the first).
    public var rttMilliseconds: Double?
    /// The session is finishing its streams and takes no new ones (GOAWAY).
    public var goingAway: Bool

    public init(peer: String?, weight: Int? = nil, openStreams: Int, rttMilliseconds: Double?, goingAway: Bool) {
        self.peer = peer
        self.weight = weight
        self.openStreams = openStreams
        self.rttMilliseconds = rttMilliseconds
        self.goingAway = goingAway
    }

    /// What `session` says of itself now.
    public init(_ session: MuxSession, weight: Int? = nil) {
        self.init(
            peer: session.channel.remoteAddress.map { "\($0.hostPort)" }, weight: weight, openStreams: session.openStreamCount,
            rttMilliseconds: session.smoothedRTT.map { Double($0.nanoseconds) / 1_000_000 }, goingAway: session.isGoingAway)
    }
}
