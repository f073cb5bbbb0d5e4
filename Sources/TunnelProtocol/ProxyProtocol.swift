import NIOCore
import Shared

/// PROXY protocol headers (HAProxy's spec, versions 1 and 2) that tell a local service behind the
/// agent who the public client was, since its own peer address is the agent's.
public enum ProxyProtocol {
    /// The header's two forms: v1 is text (read by nginx, HAProxy and most servers), v2 binary
    /// (shorter, carries IPv6 and ports without parsing).
    public enum Version: String, Sendable {
        case v1, v2
    }

    /// The 12 bytes that open every v2 header (chosen by the spec never to begin a v1 header or
    /// any common protocol's first bytes).
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// What opens every v1 header.
    public static let v1Prefix = "PROXY "

    /// The header for a TCP connection from `source` to `destination` (`ip:port` text, as carried in
    /// the stream header). Unknown or mixed families give the protocol's "unknown" form.
    public static func header(_ version: Version, source: String?, destination: String?) -> ByteBuffer {
        let src = source.flatMap { try? HostPort(parsingAddress: $0) }
        let dst = destination.flatMap { try? HostPort(parsingAddress: $0) }
        switch version {
        case .v1:
            guard let src, let dst, let family = family(src, dst) else { return ByteBuffer(string: "PROXY UNKNOWN\r\n") }
            return ByteBuffer(string: "PROXY \(family == 4 ? "TCP4" : "TCP6") \(src.host) \(dst.host) \(src.port) \(dst.port)\r\n")
        case .v2:
            var out = ByteBuffer(bytes: v2Signature)
            guard let src, let dst, let family = family(src, dst),
                let s = IPAddressBytes(src.host), let d = IPAddressBytes(dst.host)
            else {
                out.writeBytes([0x20, 0x00, 0x00, 0x00])  // LOCAL, unspecified
                return out
            }
            out.writeInteger(UInt8(0x21))  // version 2, PROXY
            out.writeInteger(UInt8(family == 4 ? 0x11 : 0x21))  // TCP over IPv4 / IPv6
            out.writeInteger(UInt16(family == 4 ? 12 : 36))
            out.writeBytes(s.bytes)
            out.writeBytes(d.bytes)
            out.writeInteger(UInt16(src.port))
            out.writeInteger(UInt16(dst.port))
            return out
        }
    }

    static func family(_ a: HostPort, _ b: HostPort) -> Int? {
        switch (IPAddressBytes(a.host), IPAddressBytes(b.host)) {
        case (.v4, .v4): return 4
        case (.v6, .v6): return 6
        default: return nil
        }
    }
}

extension IPAddressBytes {
    var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): return b
        }
    }
}

extension HostPort {
    /// Parses `ip:port` or `[v6]:port` where an IP is required.
    init(parsingAddress text: String) throws {
        self = try HostPort(parsing: text)
        guard IPAddressBytes(host) != nil else { throw AddressError(text: text, reason: "not an IP address") }
    }
}
