import Foundation
import Logging
import NIOCore
import Shared
import TunnelProtocol

/// One rule's (or one tunnel's) visitor policy, compiled from its `VisitorPolicyConfig`: the
/// credential checkers built, the CIDR lists parsed, the header edits checked, the error pages
/// read. Built once when the config is read (errors carry the key's path); `VisitorGate` applies it.
///
/// A class, compared by identity: it holds checkers with state (a bcrypt cache, a JWKS that
/// refreshes), and a rule keeps one for its life.
public final class VisitorPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Who the policy belongs to, in logs and counters: the rule's hostname pattern (and
    /// location), or `tunnel <id>`.
    let label: String
    let basicAuth: BasicAuthUsers?
    let realm: String
    let bearer: BearerTokens?
    let jwt: JWTVerifier?
    /// The headers credentials come in, stripped before the request goes on (unless passed).
    let credentialHeaders: [String]
    let access: IPAccessList?
    let rate: RateLimit?
    let maxConnections: Int?
    let bandwidth: BandwidthBudget?
    let rewrite: RequestRewrite
    /// Pages by status code, read when the config was.
    let errorPages: [Int: String]
    /// What loading found worth a warning (plain-text passwords).
    let warnings: [String]

    var requiresCredentials: Bool { basicAuth != nil || bearer != nil || jwt != nil }

    /// `trusted`: written by the operator. An agent's policy is not: it may not make the relay
    /// read files (`errorPages`, `jwt.jwksFile`) or fetch URLs (`jwt.jwksURL`), and its plain
    /// passwords (sent over the session's TLS, held in memory only) draw no warning.
    init(_ config: VisitorPolicyConfig, label: String, path: String, trusted: Bool = true) throws {
        self.label = label
        var warnings: [String] = []
        if !trusted {
            if config.errorPages != nil { throw ConfigError(path: "\(path).errorPages", reason: "only the relay's own config may name files for error pages") }
            if config.jwt != nil { throw ConfigError(path: "\(path).jwt", reason: "only the relay's own config may name a JWKS file or URL") }
        }
        if let basic = config.basicAuth {
            guard !basic.users.isEmpty else { throw ConfigError(path: "\(path).basicAuth.users", reason: "basic auth needs at least one user") }
            let users = try BasicAuthUsers(users: basic.users, path: "\(path).basicAuth.users")
            if trusted { warnings += users.warnings }
            basicAuth = users
        } else {
            basicAuth = nil
        }
        realm = config.basicAuth?.realm ?? label
        if let tokens = config.bearerTokens {
            guard !tokens.isEmpty, !tokens.contains(where: \.isEmpty) else {
                throw ConfigError(path: "\(path).bearerTokens", reason: "expected a list of non-empty tokens")
            }
            bearer = BearerTokens(tokens)
        } else {
            bearer = nil
        }
        if let j = config.jwt {
            jwt = JWTVerifier(settings: try JWTSettings(j, path: "\(path).jwt"))
        } else {
            jwt = nil
        }
        var credentialHeaders: [String] = []
        if basicAuth != nil || bearer != nil || (jwt != nil && config.jwt?.header == nil && config.jwt?.cookie == nil) {
            credentialHeaders.append("authorization")
        }
        if let header = config.jwt?.header { credentialHeaders.append(header.lowercased()) }
        self.credentialHeaders = credentialHeaders
        if config.allow != nil || config.deny != nil {
            access = IPAccessList(
                allow: try (config.allow ?? []).enumerated().map { try IPRange(parsing: $1, path: "\(path).allow[\($0)]") },
                deny: try (config.deny ?? []).enumerated().map { try IPRange(parsing: $1, path: "\(path).deny[\($0)]") })
        } else {
            access = nil
        }
        rate = try config.rateLimit.map { try RateLimit(parsing: $0.rate, burst: $0.burst, path: "\(path).rateLimit") }
        if let max = config.maxConnections, max < 1 {
            throw ConfigError(path: "\(path).maxConnections", reason: "expected 1 or more, got \(max)")
        }
        maxConnections = config.maxConnections
        bandwidth = try config.bandwidth.map { BandwidthBudget(try BandwidthLimit(parsing: $0, path: "\(path).bandwidth")) }
        var rewrite = RequestRewrite()
        if let host = config.hostHeaderRewrite {
            try HeaderEdits.check(value: host, path: "\(path).hostHeaderRewrite")
            guard !host.isEmpty, !host.contains(" ") else { throw ConfigError(path: "\(path).hostHeaderRewrite", reason: "expected a host name, got \"\(host)\"") }
            rewrite.host = host
        }
        rewrite.request = try HeaderEdits(config.requestHeaders, path: "\(path).requestHeaders")
        rewrite.response = try HeaderEdits(config.responseHeaders, path: "\(path).responseHeaders")
        if config.passCredentials != true {
            for name in credentialHeaders { rewrite.request.remove(name) }
        }
        self.rewrite = rewrite
        var pages: [Int: String] = [:]
        for (code, file) in config.errorPages ?? [:] {
            guard let status = Int(code), (400...599).contains(status) else {
                throw ConfigError(path: "\(path).errorPages.\(code)", reason: "expected a status code from 400 to 599")
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigError(path: "\(path).errorPages.\(code)", reason: "cannot read \(file)")
            }
            guard data.count <= 256 * 1024 else { throw ConfigError(path: "\(path).errorPages.\(code)", reason: "\(file) is larger than 256 KiB") }
            pages[status] = String(decoding: data, as: UTF8.self)
        }
        errorPages = pages
        self.warnings = warnings
    }

    public static func == (a: VisitorPolicy, b: VisitorPolicy) -> Bool { a === b }

    public var description: String { "policy of \(label)" }
}
