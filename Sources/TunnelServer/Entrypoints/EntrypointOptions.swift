import NIOCore
import Shared

/// The `entrypoint` handler's metadata: HTTP timeouts, a fixed tunnel for a plain TCP
/// entrypoint (`tunnel.id`, or GOST's `tunnel`), `https: true` for the TLS-only HTTPS port, and
/// `trustedProxies` (comma-separated CIDRs): the load balancers whose PROXY protocol header names
/// the visitor.
public struct EntrypointOptions: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = ["idleTimeout", "headTimeout", "tunnel.id", "tunnel", "https", "trustedProxies"]

    public var idleTimeout = RelayDefaults.httpIdleTimeout
    public var headTimeout = RelayDefaults.httpHeadTimeout
    public var fixedTunnel: String?
    public var tlsOnly = false
    public var trustedProxies = TrustedProxies()

    public init() {}

    /// Throws a `ConfigError` naming the key (`handler.metadata.idleTimeout`) of a bad duration.
    public init(metadata: Metadata) throws {
        idleTimeout = try metadata.positiveDuration("idleTimeout", default: idleTimeout, example: RelayDefaults.httpIdleTimeout.goDuration)
        headTimeout = try metadata.positiveDuration("headTimeout", default: headTimeout, example: RelayDefaults.httpHeadTimeout.goDuration)
        fixedTunnel = metadata["tunnel.id"] ?? metadata["tunnel"]
        if let text = metadata["https"] {
            guard let value = metadata.bool("https") else {
                throw ConfigError(path: "handler.metadata.https", reason: "expected true or false, got \"\(text)\"")
            }
            tlsOnly = value
        }
        if let list = metadata["trustedProxies"] {
            let entries = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            trustedProxies = try TrustedProxies(parsing: entries, path: "handler.metadata.trustedProxies")
        }
    }
}

extension Metadata {
    /// The duration at `key` (`default` when absent), refused unless it parses and is above zero.
    func positiveDuration(_ key: String, default value: TimeAmount, example: String) throws -> TimeAmount {
        guard let text = self[key] else { return value }
        guard let d = duration(key), d > .zero else {
            throw ConfigError(path: "handler.metadata.\(key)", reason: "expected a duration such as \(example), got \"\(text)\"")
        }
        return .nanoseconds(Int64(d / .nanoseconds(1)))
    }
}
