import NIOCore
import Shared

/// Which visitor addresses may reach a tunnel or a route: an allow list and a deny list of
/// `IPRange`s, matched against the connection's source address (or the address a trusted load
/// balancer's PROXY header gave).
///
/// The rules, in order:
/// - an address in `deny` is refused (deny wins, so `allow: [10.0.0.0/8], deny: [10.6.6.0/24]`
///   carves a hole);
/// - otherwise, when `allow` is not empty, only an address in it is admitted;
/// - otherwise the address is admitted.
///
/// An unknown address (nil: no peer address, or a Unix domain socket) is refused as soon as either
/// list is set, since a list the relay cannot check must not be a list it ignores. With both lists
/// empty, everything is admitted.
///
/// The lists are scanned in order with precomputed masks; the address is converted once per check.
public struct IPAccessList: Sendable, Hashable {
    public var allow: [IPRange]
    public var deny: [IPRange]

    public init(allow: [IPRange] = [], deny: [IPRange] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// Parses both lists; a bad entry names its place (`<path>.allow[2]`, `<path>.deny[0]`).
    public init(allow: [String], deny: [String], path: String) throws {
        self.allow = try allow.enumerated().map { try IPRange(parsing: $1, path: "\(path).allow[\($0)]") }
        self.deny = try deny.enumerated().map { try IPRange(parsing: $1, path: "\(path).deny[\($0)]") }
    }

    /// Whether neither list is set (everything is admitted, unknown addresses included).
    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    /// Whether a visitor from `address` may pass.
    public func admits(_ address: SocketAddress?) -> Bool {
        if isEmpty { return true }
        guard let address, let bits = IPRange.Bits(address) else { return false }
        return admits(bits)
    }

    /// Whether a visitor from the address written as `ip` may pass (an unparsable text is unknown).
    public func admits(ip: String) -> Bool {
        if isEmpty { return true }
        guard let bits = IPRange.Bits(text: ip) else { return false }
        return admits(bits)
    }

    func admits(_ bits: IPRange.Bits) -> Bool {
        for range in deny where range.contains(bits) { return false }
        if allow.isEmpty { return true }
        for range in allow where range.contains(bits) { return true }
        return false
    }
}
