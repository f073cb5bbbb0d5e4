import Shared

/// The admin API as a process runs it: the `api:` section with `-api <addr>` applied.
public struct APISettings: Sendable, Equatable {
    public var address: ListenAddress
    public var pathPrefix: String
    public var auth: Credentials?

    public init(address: ListenAddress, pathPrefix: String = "/api", auth: Credentials? = nil) {
        self.address = address
        self.pathPrefix = pathPrefix
        self.auth = auth
    }

    /// The settings `flag` (wins) and `section` give; nil when neither names an address.
    /// Refuses an API beyond loopback without credentials, with the path to fix.
    public static func resolve(flag: String?, section: APISection?) throws -> APISettings? {
        guard let text = flag ?? section?.addr else { return nil }
        let address = try ListenAddress.parse(text, path: flag != nil ? "-api" : "api.addr")
        let auth = section?.auth.flatMap { $0.username.isEmpty && $0.password.isEmpty ? nil : $0 }
        if auth == nil && !address.isLoopback {
            throw ConfigError(
                path: "api.auth",
                reason: "the admin API would listen on \(text), beyond loopback, without credentials: give api.auth {username, password} in the config, or listen on 127.0.0.1")
        }
        return APISettings(address: address, pathPrefix: section?.pathPrefix ?? "/api", auth: auth)
    }
}

/// Metrics as a process runs them: the `metrics:` section with `-metrics <addr>` applied.
public struct MetricsSettings: Sendable, Equatable {
    public var address: ListenAddress
    public var path: String
    public var auth: Credentials?
    /// Hostnames (and tunnels) with a label value of their own; beyond, `other`.
    public var maxHostnames: Int

    public init(address: ListenAddress, path: String = "/metrics", auth: Credentials? = nil, maxHostnames: Int = 100) {
        self.address = address
        self.path = path
        self.auth = auth
        self.maxHostnames = maxHostnames
    }

    /// The settings `flag` (wins) and `section` give; nil when neither names an address.
    public static func resolve(flag: String?, section: MetricsSection?) throws -> MetricsSettings? {
        guard let text = flag ?? section?.addr else { return nil }
        let address = try ListenAddress.parse(text, path: flag != nil ? "-metrics" : "metrics.addr")
        let auth = section?.auth.flatMap { $0.username.isEmpty && $0.password.isEmpty ? nil : $0 }
        return MetricsSettings(address: address, path: section?.path ?? "/metrics", auth: auth, maxHostnames: section?.maxHostnames ?? 100)
    }
}
