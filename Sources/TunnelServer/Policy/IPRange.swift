import Foundation
import NIOCore
import Shared

/// One CIDR block of IPv4 or IPv6 addresses (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a
/// /32 or a /128), as written in a visitor allow/deny list or a list of trusted proxies.
///
/// Checked once per connection and once per request, so everything is decided when the text is
/// parsed: an address is held as 128 bits (IPv4 as its IPv4-mapped IPv6 form `::ffff:a.b.c.d`), and
/// a check is two masked compares, with no text and no allocation. Holding IPv4 as mapped IPv6 is
/// also what makes a dual-stack listener's `::ffff:192.0.2.1` match `192.0.2.0/24`.
///
/// Host bits below the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`), as nginx's allow/deny
/// does; the range prints in its network form.
public struct IPRange: Sendable, Hashable, CustomStringConvertible {
    /// An IP address as 128 bits, most significant first; IPv4 is `::ffff:a.b.c.d`.
    struct Bits: Sendable, Hashable {
        var hi: UInt64
        var lo: UInt64

        /// The prefix `::ffff:0:0/96` that IPv4-mapped addresses share, in `lo`.
        static let mappedPrefix: UInt64 = 0x0000_FFFF_0000_0000

        init(hi: UInt64, lo: UInt64) {
            self.hi = hi
            self.lo = lo
        }

        /// An IPv4 address (host byte order) as its mapped IPv6 form.
        init(v4: UInt32) {
            self.hi = 0
            self.lo = Self.mappedPrefix | UInt64(v4)
        }

        /// The address of a socket; nil for a Unix domain socket (no IP to match).
        init?(_ address: SocketAddress) {
            switch address {
            case .v4(let a):
                self.init(v4: UInt32(bigEndian: a.address.sin_addr.s_addr))
            case .v6(let a):
                var raw = a.address.sin6_addr
                let (hi, lo) = withUnsafeBytes(of: &raw) { bytes in
                    (Self.load(bytes, at: 0), Self.load(bytes, at: 8))
                }
                self.init(hi: hi, lo: lo)
            case .unixDomainSocket:
                return nil
            }
        }

        /// An address's text (`192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`); nil when it is not one.
        init?(text: String) {
            switch IPAddressBytes(text) {
            case .v4(let b):
                self.init(v4: b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            case .v6(let b):
                let (hi, lo) = b.withUnsafeBytes { (Self.load($0, at: 0), Self.load($0, at: 8)) }
                self.init(hi: hi, lo: lo)
            case nil:
                return nil
            }
        }

        /// Whether this is an IPv4 address (IPv4-mapped).
        var isV4: Bool { hi == 0 && lo & 0xFFFF_FFFF_0000_0000 == Self.mappedPrefix }

        /// The address with every bit below `prefix` (0...128) cleared.
        func masked(_ prefix: Int) -> Bits {
            Bits(hi: hi & Self.mask(prefix), lo: lo & Self.mask(prefix - 64))
        }

        /// The top `bits` bits set in a 64-bit word (clamped to 0...64).
        static func mask(_ bits: Int) -> UInt64 {
            bits <= 0 ? 0 : bits >= 64 ? ~0 : ~(UInt64.max >> UInt64(bits))
        }

        private static func load(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in offset..<offset + 8 { value = value << 8 | UInt64(bytes[i]) }
            return value
        }

        /// The 16 bytes, most significant first.
        var bytes: [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: hi >> UInt64(56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: lo >> UInt64(56 - 8 * $0)) }
        }
    }

    /// The network's first address (host bits cleared).
    let network: Bits
    /// The prefix in the 128-bit space: an IPv4 /n is 96 + n.
    let bits: Int
    let maskHi: UInt64
    let maskLo: UInt64
    /// Whether the range was written as IPv4, so it prints (and counts its prefix) as such.
    public let isIPv4: Bool

    /// The prefix length as written: 0...32 for IPv4, 0...128 for IPv6.
    public var prefixLength: Int { isIPv4 ? bits - 96 : bits }

    /// Parses `address` or `address/prefix`; a failure names `path` (the config key it came from).
    public init(parsing text: String, path: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        // A zone (`fe80::1%eth0`) names an interface, which a visitor's address never carries.
        guard !addressText.contains("%"), let address = Bits(text: addressText) else {
            throw ConfigError(path: path, reason: "'\(text)' is not an IP address or CIDR range (such as 192.0.2.0/24 or 2001:db8::/32)")
        }
        // Written as IPv4 only when it has no colon: `::ffff:1.2.3.4/120` stays an IPv6 range.
        let v4 = !addressText.contains(":")
        let maxPrefix = v4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            let p = parts[1]
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), (0...maxPrefix).contains(n) else {
                throw ConfigError(path: path, reason: "'\(text)': the prefix length must be 0 to \(maxPrefix)")
            }
            prefix = n
        }
        self.init(address, prefix: v4 ? 96 + prefix : prefix, isIPv4: v4)
    }

    init(_ address: Bits, prefix: Int, isIPv4: Bool) {
        self.bits = prefix
        self.maskHi = Bits.mask(prefix)
        self.maskLo = Bits.mask(prefix - 64)
        self.network = address.masked(prefix)
        self.isIPv4 = isIPv4
    }

    /// Whether the range holds this address. An IPv4-mapped IPv6 address is its IPv4 address; a
    /// Unix domain socket is never in a range.
    public func contains(_ address: SocketAddress) -> Bool {
        guard let bits = Bits(address) else { return false }
        return contains(bits)
    }

    /// Whether the range holds the address written as `ip` (no port); false when `ip` is not an IP.
    public func contains(ip: String) -> Bool {
        guard let bits = Bits(text: ip) else { return false }
        return contains(bits)
    }

    func contains(_ address: Bits) -> Bool {
        address.hi & maskHi == network.hi && address.lo & maskLo == network.lo
    }

    public var description: String {
        let b = network.bytes
        let text: String
        if isIPv4 {
            text = b[12...].map(String.init).joined(separator: ".")
        } else {
            // SocketAddress formats IPv6 canonically (RFC 5952: zero runs compressed).
            let words = stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
            text = (try? SocketAddress(ipAddress: words.joined(separator: ":"), port: 0).ipAddress) ?? words.joined(separator: ":")
        }
        return "\(text)/\(prefixLength)"
    }
}
