import NIOCore
import Shared

/// Where an operations listener (metrics, API) binds, and whether only this host can reach it.
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    /// `host:port`, `:port` (every address) or `[::1]:port`.
    public static func parse(_ text: String, path: String) throws -> ListenAddress {
        let hp: HostPort
        do {
            hp = try HostPort(parsing: text)
        } catch {
            throw ConfigError(path: path, reason: "takes host:port, e.g. 127.0.0.1:9000, got \"\(text)\"")
        }
        return ListenAddress(host: hp.host.isEmpty ? "0.0.0.0" : hp.host, port: hp.port)
    }

    /// Whether only processes on this host can connect: a loopback address or `localhost`.
    /// Why it matters: the API revokes agents and edits routes, so beyond loopback it must not
    /// run without credentials.
    public var isLoopback: Bool {
        if host == "localhost" { return true }
        if host == "::1" { return true }
        if let address = try? SocketAddress(ipAddress: host, port: 0), case .v4 = address {
            return host.hasPrefix("127.")
        }
        return false
    }
}
