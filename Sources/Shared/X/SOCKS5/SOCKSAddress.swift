import NIOCore

/// SOCKS5 address encoding (RFC 1928 §5): ATYP then IPv4, length-prefixed name, or IPv6, then port.
public enum SOCKSAddress {
    public static let ipv4: UInt8 = 0x01
    public static let domain: UInt8 = 0x03
    public static let ipv6: UInt8 = 0x04

    /// Appends `address` in SOCKS5 form; names are sent unresolved so the proxy resolves them.
    public static func write(_ address: HostPort, to buffer: inout ByteBuffer) {
        switch IPAddressBytes(address.dialHost) {
        case .v4(let b):
            buffer.writeInteger(ipv4)
            buffer.writeBytes(b)
        case .v6(let b):
            buffer.writeInteger(ipv6)
            buffer.writeBytes(b)
        case nil:
            let name = Array(address.host.utf8.prefix(255))
            buffer.writeInteger(domain)
            buffer.writeInteger(UInt8(name.count))
            buffer.writeBytes(name)
        }
        buffer.writeInteger(UInt16(truncatingIfNeeded: address.port))
    }

    /// Reads an address; nil while incomplete. Throws on an unknown ATYP, reporting it as `unsupportedAddressType`.
    public static func read(from buffer: inout ByteBuffer) throws -> HostPort? {
        guard let atyp = buffer.readInteger(as: UInt8.self) else { return nil }
        let host: String
        switch atyp {
        case ipv4:
            guard let b = buffer.readBytes(length: 4) else { return nil }
            host = b.map(String.init).joined(separator: ".")
        case ipv6:
            guard let b = buffer.readBytes(length: 16) else { return nil }
            host = formatIPv6(b)
        case domain:
            guard let len = buffer.readInteger(as: UInt8.self), let b = buffer.readBytes(length: Int(len)) else { return nil }
            host = String(decoding: b, as: UTF8.self)
        default:
            throw SOCKSAddressTypeError(atyp: atyp)
        }
        guard let port = buffer.readInteger(as: UInt16.self) else { return nil }
        return HostPort(host: host, port: Int(port))
    }

    static func formatIPv6(_ b: [UInt8]) -> String {
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(b[i]) << 8 | UInt16(b[i + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }
}

/// An ATYP other than 1, 3 or 4: SOCKS5 replies 0x08.
public struct SOCKSAddressTypeError: Error, CustomStringConvertible {
    public var atyp: UInt8
    public var description: String { "unsupported SOCKS address type \(atyp)" }
}
