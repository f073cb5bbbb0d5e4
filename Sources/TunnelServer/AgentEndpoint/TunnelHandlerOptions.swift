import NIOCore
import Shared

/// The `tunnel` handler's metadata (the relay's agent endpoint): extra tokens, GOST's ingress
/// rules, the registration deadline, and the public entrypoint it brings along.
public struct TunnelHandlerOptions: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = [
        "tokens", "token", "tunnel", "ingress", "registrationTimeout", "entrypoint", "entrypoint.idleTimeout", "entrypoint.headTimeout", "entrypoint.trustedProxies",
    ]

    /// A host pattern and the tunnel it leads to (GOST's `tunnel=host:id,host2:id2`).
    public struct Rule: Sendable, Equatable {
        public var hostname: String
        public var tunnel: String
    }

    /// Tokens accepted with full rights (`tokens`, comma-separated, or `token`).
    public var tokens: [String] = []
    public var rules: [Rule] = []
    /// The `ingresses:` entry whose rules this endpoint adds (`ingress`, GOST's name for it).
    public var ingress: String?
    /// How long a session may take to register (`registrationTimeout`); nil: the relay's default.
    public var registrationTimeout: TimeAmount?

    public init() {}

    /// Throws a `ConfigError` naming the key of a malformed rule or duration.
    public init(metadata: Metadata) throws {
        tokens = (metadata["tokens"] ?? metadata["token"] ?? "").split(separator: ",").map(String.init)
        ingress = metadata["ingress"]
        for rule in (metadata["tunnel"] ?? "").split(separator: ",") {
            guard let colon = rule.lastIndex(of: ":") else {
                throw ConfigError(path: "handler.metadata.tunnel", reason: "expected host:tunnel-id, got \"\(rule)\"")
            }
            rules.append(Rule(hostname: String(rule[..<colon]), tunnel: String(rule[rule.index(after: colon)...])))
        }
        if metadata["registrationTimeout"] != nil {
            registrationTimeout = try metadata.positiveDuration("registrationTimeout", default: .zero, example: RelayDefaults.registrationTimeout.goDuration)
        }
    }

    /// The public entrypoint `tunnel://:8443?entrypoint=:80` opens beside the agent endpoint (as
    /// GOST does), with the `entrypoint.*` timeouts handed to it; nil when none is asked for.
    public static func companionEntrypoint(of service: ServiceConfig) -> ServiceConfig? {
        let meta = (service.metadata ?? Metadata()).values.merging((service.handler.metadata ?? Metadata()).values) { $1 }
        guard let entrypoint = meta["entrypoint"], !entrypoint.isEmpty else { return nil }
        var timeouts: [String: String] = [:]
        timeouts["idleTimeout"] = meta["entrypoint.idleTimeout"]
        timeouts["headTimeout"] = meta["entrypoint.headTimeout"]
        timeouts["trustedProxies"] = meta["entrypoint.trustedProxies"]
        return ServiceConfig(
            name: "\(service.name)-entrypoint", addr: entrypoint,
            handler: HandlerConfig(type: "entrypoint", metadata: timeouts.isEmpty ? nil : Metadata(timeouts)),
            listener: ListenerConfig(type: "tcp"))
    }
}
