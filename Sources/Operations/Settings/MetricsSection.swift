import Shared

/// GOST's top-level `metrics:` section: where Prometheus scrapes this process.
///
/// ```yaml
/// metrics:
///   addr: 127.0.0.1:9000
///   path: /metrics          # default
///   auth: {username: prom, password: secret}
///   maxHostnames: 100       # hostnames (and tunnels) with their own label value; the rest are "other"
/// ```
/// The `-metrics <addr>` flag sets `addr` (and wins over the file's).
public struct MetricsSection: ConfigSection {
    public static let key = "metrics"

    public var addr: String?
    public var path: String?
    public var auth: Credentials?
    public var maxHostnames: Int?

    public init(addr: String? = nil, path: String? = nil, auth: Credentials? = nil, maxHostnames: Int? = nil) {
        self.addr = addr
        self.path = path
        self.auth = auth
        self.maxHostnames = maxHostnames
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case addr, path, auth, maxHostnames }

    public func validate() throws {
        if let addr { _ = try ListenAddress.parse(addr, path: "metrics.addr") }
        if let path, !path.hasPrefix("/") { throw ConfigError(path: "metrics.path", reason: "a path starts with /, got \"\(path)\"") }
        if let maxHostnames, maxHostnames < 1 { throw ConfigError(path: "metrics.maxHostnames", reason: "takes a count of 1 or more") }
    }
}
