import Shared
import TunnelProtocol

/// GOST's top-level `ingresses:` section: named sets of hostname → tunnel rules that a relay's
/// `tunnel` handler names with `metadata.ingress`. The relay contributes it to the config
/// (`Registry+Relay.swift`); the engine knows nothing of it.
public struct IngressesSection: ConfigSection {
    public static let key = "ingresses"

    public var ingresses: [IngressConfig]

    public init(_ ingresses: [IngressConfig]) {
        self.ingresses = ingresses
    }

    /// The section is a list, not a mapping: it decodes as the bare list (strictly, as every
    /// entry below is an `IngressConfig`).
    public init(from decoder: any Decoder) throws {
        ingresses = try decoder.singleValueContainer().decode([IngressConfig].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(ingresses)
    }

    /// Names are given and unique, and every rule has a hostname and a tunnel.
    public func validate() throws {
        var names: Set<String> = []
        for (ii, ingress) in ingresses.enumerated() {
            let path = "ingresses[\(ii)]"
            guard !ingress.name.isEmpty else { throw ConfigError(path: "\(path).name", reason: "an ingress needs a name") }
            guard names.insert(ingress.name).inserted else { throw ConfigError(path: "\(path).name", reason: "duplicate ingress name \"\(ingress.name)\"") }
            for (ri, rule) in ingress.rules.enumerated() {
                if rule.hostname.isEmpty || rule.endpoint.isEmpty {
                    throw ConfigError(path: "\(path).rules[\(ri)]", reason: "a rule needs a hostname and an endpoint (tunnel ID)")
                }
                _ = try rule.options(path: "\(path).rules[\(ri)]")
            }
        }
    }

    /// The ingress called `name`.
    public func named(_ name: String) -> IngressConfig? {
        ingresses.first { $0.name == name }
    }
}

/// A named set of ingress rules, as GOST writes them.
public struct IngressConfig: Codable, Sendable, Equatable {
    public var name: String
    @OrDefault public var rules: [IngressRuleConfig]

    public init(name: String, rules: [IngressRuleConfig]) {
        self.name = name
        self.rules = rules
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, rules }
}

/// One rule: a hostname pattern (`app.example.com`, `*.example.org`, `.example.com`) and the
/// tunnel ID it leads to (GOST calls it the endpoint), with how its visitors are served
/// (`RuleOptions`: `tls: terminate|passthrough`, `certFile`/`keyFile`, `redirectHTTPS`,
/// `hstsMaxAge`, `upstream: http1|h2c`).
public struct IngressRuleConfig: Codable, Sendable, Equatable {
    public var hostname: String
    public var endpoint: String
    public var tls: String?
    public var certFile: String?
    public var keyFile: String?
    public var redirectHTTPS: Bool?
    public var hstsMaxAge: Int?
    public var upstream: String?
    /// Path prefixes this rule is for (frp's `locations`): `/api/` of the host goes here, other
    /// paths to the host's rule without locations. Absent: every path.
    public var locations: [String]?
    /// What visitors must satisfy (auth, IP lists, limits) and how requests are rewritten.
    public var policy: VisitorPolicyConfig?

    public init(
        hostname: String, endpoint: String, tls: String? = nil, certFile: String? = nil, keyFile: String? = nil, redirectHTTPS: Bool? = nil, hstsMaxAge: Int? = nil,
        upstream: String? = nil, locations: [String]? = nil, policy: VisitorPolicyConfig? = nil
    ) {
        self.locations = locations
        self.policy = policy
        self.hostname = hostname
        self.endpoint = endpoint
        self.tls = tls
        self.certFile = certFile
        self.keyFile = keyFile
        self.redirectHTTPS = redirectHTTPS
        self.hstsMaxAge = hstsMaxAge
        self.upstream = upstream
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case hostname, endpoint, tls, certFile, keyFile, redirectHTTPS, hstsMaxAge, upstream, locations, policy }

    /// The rule's options, refused with the key's path (`path` is the rule's own) when a value
    /// makes no sense.
    public func options(path: String) throws -> RuleOptions {
        var o = RuleOptions(certFile: certFile, keyFile: keyFile, redirectHTTPS: redirectHTTPS, hstsMaxAge: hstsMaxAge)
        if let tls {
            guard let mode = RuleOptions.TLSMode(rawValue: tls) else {
                throw ConfigError(path: "\(path).tls", reason: "expected terminate or passthrough, got \"\(tls)\"")
            }
            o.tls = mode
        }
        if let upstream {
            guard let proto = RuleOptions.UpstreamProtocol(rawValue: upstream) else {
                throw ConfigError(path: "\(path).upstream", reason: "expected http1 or h2c, got \"\(upstream)\"")
            }
            o.upstream = proto
        }
        if (certFile == nil) != (keyFile == nil) {
            throw ConfigError(path: "\(path).\(certFile == nil ? "certFile" : "keyFile")", reason: "certFile and keyFile go together")
        }
        if o.tls == .passthrough, certFile != nil {
            throw ConfigError(path: "\(path).tls", reason: "a passthrough rule cannot have a certificate (the relay never decrypts it)")
        }
        if let hstsMaxAge, hstsMaxAge < 0 {
            throw ConfigError(path: "\(path).hstsMaxAge", reason: "expected seconds (0 or more), got \(hstsMaxAge)")
        }
        for (i, prefix) in (locations ?? []).enumerated() where !prefix.hasPrefix("/") {
            throw ConfigError(path: "\(path).locations[\(i)]", reason: "a location is a path prefix starting with /, got \"\(prefix)\"")
        }
        if let policy, !policy.isEmpty {
            if o.tls == .passthrough, policy.requiresHTTP {
                throw ConfigError(path: "\(path).policy", reason: "a passthrough rule's requests are never seen by the relay: only allow, deny, rateLimit, maxConnections and bandwidth apply")
            }
            // The label names the rule in logs and counters (and keys its rate buckets).
            let label = (locations ?? []).isEmpty ? hostname : "\(hostname) \((locations ?? []).joined(separator: ","))"
            o.policy = try VisitorPolicy(policy, label: label, path: "\(path).policy")
        }
        return o
    }
}

extension Config {
    /// GOST's `ingresses:` (the relay's section), read and written as a plain list.
    public var ingresses: [IngressConfig]? {
        get { sections[IngressesSection.self]?.ingresses }
        set { sections[IngressesSection.self] = newValue.map(IngressesSection.init) }
    }
}
