import Foundation
import Shared
import TunnelProtocol

/// Where a rule's JWTs come from and what they must say (`policy.jwt`), checked when the config is
/// read: one key source (a JWKS file or an http(s) URL), the token's place (a header, default
/// `Authorization: Bearer`, or a cookie), the issuer and audience required, the clock skew allowed.
struct JWTSettings: Sendable, Equatable {
    enum Source: Sendable, Equatable {
        case file(String)
        case url(URL)
    }

    var source: Source
    var issuer: String?
    var audience: String?
    /// Lowercased header name; nil: `Authorization`.
    var header: String?
    var cookie: String?
    /// Seconds of skew allowed on `exp` and `nbf`.
    var leeway: Int

    init(_ c: VisitorPolicyConfig.JWT, path: String) throws {
        switch (c.jwksFile, c.jwksURL) {
        case (let file?, nil):
            guard !file.isEmpty else { throw ConfigError(path: "\(path).jwksFile", reason: "an empty path") }
            source = .file(file)
        case (nil, let text?):
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw ConfigError(path: "\(path).jwksURL", reason: "expected an http(s) URL, got \"\(text)\"")
            }
            source = .url(url)
        case (nil, nil):
            throw ConfigError(path: path, reason: "a JWT check needs jwksFile or jwksURL")
        case (_?, _?):
            throw ConfigError(path: path, reason: "jwksFile and jwksURL exclude each other")
        }
        if c.header != nil && c.cookie != nil { throw ConfigError(path: path, reason: "header and cookie exclude each other") }
        if let header = c.header { try HeaderEdits.check(name: header, path: "\(path).header") }
        if let leeway = c.leeway, leeway < 0 { throw ConfigError(path: "\(path).leeway", reason: "expected seconds (0 or more), got \(leeway)") }
        issuer = c.issuer
        audience = c.audience
        header = c.header?.lowercased()
        cookie = c.cookie
        leeway = c.leeway ?? 60
    }

    /// The token a request carries where these settings say, from its header fields.
    func token(in field: (String) -> String?) -> String? {
        if let cookie {
            for pair in (field("cookie") ?? "").split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == cookie { return kv[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }
        guard let value = field(header ?? "authorization") else { return nil }
        if let token = BearerTokens.token(fromAuthorization: value) { return token }
        return header == nil ? nil : value.trimmingCharacters(in: .whitespaces)
    }
}
