import NIOCore

/// The load balancers allowed to tell the relay who a visitor is, with a PROXY protocol header at
/// the start of the connection.
///
/// A header is read only from a peer in this list; from any other peer the connection is plain and
/// its own peer address is the visitor's, whatever its first bytes say. Otherwise anyone could
/// send `PROXY TCP4 <an allowed address> ...` and walk past an IP allow list or another visitor's
/// rate limit. An empty list trusts no one (the default: no load balancer).
public struct TrustedProxies: Sendable, Hashable {
    public var ranges: [IPRange]

    public init(_ ranges: [IPRange] = []) {
        self.ranges = ranges
    }

    /// Parses the list; a bad entry names its place (`<path>[1]`).
    public init(parsing entries: [String], path: String) throws {
        self.ranges = try entries.enumerated().map { try IPRange(parsing: $1, path: "\(path)[\($0)]") }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether a connection from `peer` may start with a PROXY header (nil or a Unix socket: no).
    public func trusts(_ peer: SocketAddress?) -> Bool {
        guard let peer, let bits = IPRange.Bits(peer) else { return false }
        return ranges.contains { $0.contains(bits) }
    }
}
