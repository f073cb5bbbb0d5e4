import Shared

/// GOST's top-level `api:` section: the admin API (and the dashboard beside it).
///
/// ```yaml
/// api:
///   addr: 127.0.0.1:18080
///   pathPrefix: /api        # default; the dashboard is at /
///   auth: {username: admin, password: secret}
/// ```
/// The `-api <addr>` flag sets `addr` (and wins over the file's). Beyond loopback `auth` is
/// required: the API can revoke agents and rewrite routes.
public struct APISection: ConfigSection {
    public static let key = "api"

    public var addr: String?
    public var pathPrefix: String?
    public var auth: Credentials?

    public init(addr: String? = nil, pathPrefix: String? = nil, auth: Credentials? = nil) {
        self.addr = addr
        self.pathPrefix = pathPrefix
        self.auth = auth
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case addr, pathPrefix, auth }

    public func validate() throws {
        if let addr { _ = try ListenAddress.parse(addr, path: "api.addr") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_.")
        if let pathPrefix, !pathPrefix.hasPrefix("/") || pathPrefix == "/" || pathPrefix.hasSuffix("/") || !pathPrefix.allSatisfy({ allowed.contains($0) }) {
            throw ConfigError(path: "api.pathPrefix", reason: "a path such as /api (starts with /, not / alone, no trailing /; letters, digits, - _ . /), got \"\(pathPrefix)\"")
        }
    }
}
