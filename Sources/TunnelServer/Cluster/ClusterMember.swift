import Foundation

/// A relay's record in the cluster (`<prefix>members/<id>`, on its lease): who it is and where
/// the others and operators reach it.
public struct ClusterMember: Codable, Sendable, Equatable {
    public var id: String
    /// Where other relays reach it (`--peer-addr`), nil when it takes no peer sessions.
    public var peerAddr: String?
    /// The name agents use for it (`--advertise`).
    public var advertise: String
    public var version: String
    public var startedAt: Date
}
