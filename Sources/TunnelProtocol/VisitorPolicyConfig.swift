/// What a tunnel's visitors must satisfy and how their HTTP requests are rewritten, as written in
/// the relay's YAML (an ingress rule's `policy:`, a token's `policy:`) or sent by an agent in its
/// claim (where its token allows). Plain values: the relay compiles them (`VisitorPolicy`), checks
/// them (`VisitorGate`), and the agent only ever sends them.
///
/// Why one type for all three places: an operator writes the same keys for a rule and a token,
/// and an agent's wish is the same shape, so "the relay's config wins over the agent's" is a
/// comparison of like with like (`VisitorGate` layers them, relay first).
public struct VisitorPolicyConfig: Codable, Sendable, Equatable {
    /// HTTP basic auth: user → password, stored as a bcrypt hash (`$2b$…`) or, with a warning,
    /// in plain text.
    public var basicAuth: BasicAuth?
    /// API keys accepted as `Authorization: Bearer <key>`.
    public var bearerTokens: [String]?
    /// Signed JWTs checked against a JWKS file or URL.
    public var jwt: JWT?
    /// Pass the credentials the relay checked on to the local service (default: stripped).
    public var passCredentials: Bool?
    /// CIDRs (IPv4, IPv6) the visitor's address must be in; empty or absent: any.
    public var allow: [String]?
    /// CIDRs refused (wins over `allow`).
    public var deny: [String]?
    /// Requests (HTTP) or connections (TCP, TLS passthrough) per visitor address.
    public var rateLimit: RateLimit?
    /// Connections the tunnel holds at once from this rule's visitors.
    public var maxConnections: Int?
    /// Bytes per second for the tunnel, all its connections and both directions together
    /// (`"1MB/s"`, `"512KB/s"`).
    public var bandwidth: String?
    /// The `Host` the local service sees (frp's `hostHeaderRewrite`).
    public var hostHeaderRewrite: String?
    /// Request headers set, added or removed before the request reaches the local service.
    public var requestHeaders: HeaderRules?
    /// Response headers set, added or removed before the answer reaches the visitor.
    public var responseHeaders: HeaderRules?
    /// Pages the relay answers with instead of its own, by status code (`"502": /path/page.html`).
    public var errorPages: [String: String]?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case basicAuth, bearerTokens, jwt, passCredentials, allow, deny, rateLimit, maxConnections, bandwidth
        case hostHeaderRewrite, requestHeaders, responseHeaders, errorPages
    }

    /// Whether it asks for nothing at all.
    public var isEmpty: Bool { self == VisitorPolicyConfig() }

    /// Whether it asks for something only an HTTP request has (credentials, headers, pages).
    public var requiresHTTP: Bool {
        basicAuth != nil || bearerTokens != nil || jwt != nil || passCredentials != nil || hostHeaderRewrite != nil || requestHeaders != nil
            || responseHeaders != nil || errorPages != nil
    }

    public struct BasicAuth: Codable, Sendable, Equatable {
        public var users: [String: String]
        /// The realm named in `WWW-Authenticate` (default: the hostname).
        public var realm: String?

        public init(users: [String: String], realm: String? = nil) {
            self.users = users
            self.realm = realm
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case users, realm }
    }

    public struct JWT: Codable, Sendable, Equatable {
        public var jwksFile: String?
        public var jwksURL: String?
        public var issuer: String?
        public var audience: String?
        /// Where the token is read from: a header (default `Authorization: Bearer`) or a cookie.
        public var header: String?
        public var cookie: String?
        /// Seconds of clock skew allowed for `exp`/`nbf` (default 60).
        public var leeway: Int?

        public init(jwksFile: String? = nil, jwksURL: String? = nil, issuer: String? = nil, audience: String? = nil, header: String? = nil, cookie: String? = nil, leeway: Int? = nil) {
            self.jwksFile = jwksFile
            self.jwksURL = jwksURL
            self.issuer = issuer
            self.audience = audience
            self.header = header
            self.cookie = cookie
            self.leeway = leeway
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case jwksFile, jwksURL, issuer, audience, header, cookie, leeway }
    }

    public struct RateLimit: Codable, Sendable, Equatable {
        /// `"10/s"`, `"600/m"`, `"100/h"`.
        public var rate: String
        /// Requests allowed at once above the rate (default: one second's worth, at least 1).
        public var burst: Int?

        public init(rate: String, burst: Int? = nil) {
            self.rate = rate
            self.burst = burst
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case rate, burst }
    }

    /// Header edits, applied in this order: remove, then set (replacing every value), then add.
    public struct HeaderRules: Codable, Sendable, Equatable {
        public var set: [String: String]?
        public var add: [String: String]?
        public var remove: [String]?

        public init(set: [String: String]? = nil, add: [String: String]? = nil, remove: [String]? = nil) {
            self.set = set
            self.add = add
            self.remove = remove
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case set, add, remove }

        public var isEmpty: Bool { (set ?? [:]).isEmpty && (add ?? [:]).isEmpty && (remove ?? []).isEmpty }
    }
}
