import NIOCore

/// A host (name or IP literal) and a port, as written in configs and URLs.
///
/// Kept as text rather than a resolved `SocketAddress` because proxies resolve names at the
/// proxy (SOCKS5 `--socks5-hostname`, HTTP CONNECT), and a chain passes names on unresolved.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// Empty means "any address" for listeners.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `:port`, `[v6]:port`; a bare `port` is accepted for listen addresses.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw AddressError(text: text, reason: "missing ']'") }
            let host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else {
                throw AddressError(text: text, reason: "expected [host]:port")
            }
            self.init(host: host, port: port)
            return
        }
        if let colon = t.lastIndex(of: ":") {
            let host = String(t[..<colon])
            guard !host.contains(":") else { throw AddressError(text: text, reason: "IPv6 literals need brackets, e.g. [::1]:80") }
            guard let port = Int(t[t.index(after: colon)...]), (0...65535).contains(port) else {
                throw AddressError(text: text, reason: "port must be a number from 0 to 65535")
            }
            self.init(host: host, port: port)
            return
        }
        if let port = Int(t), (0...65535).contains(port) {
            self.init(host: "", port: port)
            return
        }
        throw AddressError(text: text, reason: "expected host:port")
    }

    /// The host to bind when listening: empty means every interface.
    public var bindHost: String { host.isEmpty ? "0.0.0.0" : host }

    /// The host to dial: an empty host means this machine.
    public var dialHost: String { host.isEmpty ? "127.0.0.1" : host }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether `host` is an IPv4 or IPv6 literal rather than a name.
    public var isIPLiteral: Bool { IPAddressBytes(host) != nil }
}

/// A malformed address in a config or on the command line.
public struct AddressError: Error, CustomStringConvertible {
    public var text: String
    public var reason: String

    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }
    public var description: String { "invalid address \"\(text)\": \(reason)" }
}

/// Raw bytes of an IP literal, used by SOCKS to encode addresses.
public enum IPAddressBytes {
    case v4([UInt8])
    case v6([UInt8])

    public init?(_ text: String) {
        if let v4 = Self.parseV4(text) {
            self = .v4(v4)
        } else if text.contains(":"), let addr = try? SocketAddress(ipAddress: text, port: 0),
            case .v6(let v6) = addr
        {
            self = .v6(withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) })
        } else {
            return nil
        }
    }

    static func parseV4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }
}

extension SocketAddress {
    /// The `HostPort` form of a resolved address, for replies such as SOCKS BND.ADDR.
    public var hostPort: HostPort {
        HostPort(host: self.ipAddress ?? "0.0.0.0", port: self.port ?? 0)
    }
}
