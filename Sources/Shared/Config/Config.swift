/// The GOST v3 configuration model (`services`, `chains`, `hops`, `nodes`), decoded strictly:
/// GOST's key names, unknown keys refused with their path.
public struct Config: Codable, Sendable, Equatable {
    public var services: [ServiceConfig]?
    public var chains: [ChainConfig]?
    public var log: LogConfig?
    /// GOST's ingress rule sets (hostname → tunnel ID), named so a relay's `tunnel` handler can
    /// refer to one with `metadata.ingress`.
    public var ingresses: [IngressConfig]?

    public init(services: [ServiceConfig]? = nil, chains: [ChainConfig]? = nil, log: LogConfig? = nil, ingresses: [IngressConfig]? = nil) {
        self.services = services
        self.chains = chains
        self.log = log
        self.ingresses = ingresses
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case services, chains, log, ingresses }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        services = try c.decodeIfPresent([ServiceConfig].self, forKey: .services)
        chains = try c.decodeIfPresent([ChainConfig].self, forKey: .chains)
        log = try c.decodeIfPresent(LogConfig.self, forKey: .log)
        ingresses = try c.decodeIfPresent([IngressConfig].self, forKey: .ingresses)
    }
}

/// A named set of ingress rules, as GOST writes them.
public struct IngressConfig: Codable, Sendable, Equatable {
    public var name: String
    public var rules: [IngressRuleConfig]

    public init(name: String, rules: [IngressRuleConfig]) {
        self.name = name
        self.rules = rules
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, rules }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        rules = try c.decodeIfPresent([IngressRuleConfig].self, forKey: .rules) ?? []
    }
}

/// One rule: a hostname pattern (`app.example.com`, `*.example.org`, `.example.com`) and the
/// tunnel ID it leads to (GOST calls it the endpoint).
public struct IngressRuleConfig: Codable, Sendable, Equatable {
    public var hostname: String
    public var endpoint: String

    public init(hostname: String, endpoint: String) {
        self.hostname = hostname
        self.endpoint = endpoint
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case hostname, endpoint }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hostname = try c.decode(String.self, forKey: .hostname)
        endpoint = try c.decode(String.self, forKey: .endpoint)
    }
}

public struct LogConfig: Codable, Sendable, Equatable {
    /// trace, debug, info, warn, error.
    public var level: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case level }

    public init(level: String? = nil) { self.level = level }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decodeIfPresent(String.self, forKey: .level)
    }
}

public struct ServiceConfig: Codable, Sendable, Equatable {
    public var name: String
    public var addr: String
    public var handler: HandlerConfig
    public var listener: ListenerConfig
    public var forwarder: ForwarderConfig?
    public var metadata: Metadata?

    public init(name: String, addr: String, handler: HandlerConfig, listener: ListenerConfig, forwarder: ForwarderConfig? = nil, metadata: Metadata? = nil) {
        self.name = name
        self.addr = addr
        self.handler = handler
        self.listener = listener
        self.forwarder = forwarder
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, addr, handler, listener, forwarder, metadata }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        addr = try c.decode(LooseString.self, forKey: .addr).value
        handler = try c.decodeIfPresent(HandlerConfig.self, forKey: .handler) ?? HandlerConfig(type: "auto")
        listener = try c.decodeIfPresent(ListenerConfig.self, forKey: .listener) ?? ListenerConfig(type: "tcp")
        forwarder = try c.decodeIfPresent(ForwarderConfig.self, forKey: .forwarder)
        metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
    }
}

public struct HandlerConfig: Codable, Sendable, Equatable {
    public var type: String
    public var chain: String?
    public var auth: Credentials?
    public var auths: [Credentials]?
    public var metadata: Metadata?

    public init(type: String, chain: String? = nil, auth: Credentials? = nil, auths: [Credentials]? = nil, metadata: Metadata? = nil) {
        self.type = type
        self.chain = chain
        self.auth = auth
        self.auths = auths
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, chain, auth, auths, metadata }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        chain = try c.decodeIfPresent(String.self, forKey: .chain)
        auth = try c.decodeIfPresent(StrictCredentials.self, forKey: .auth)?.value
        auths = try c.decodeIfPresent([StrictCredentials].self, forKey: .auths)?.map(\.value)
        metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
    }
}

public struct ListenerConfig: Codable, Sendable, Equatable {
    public var type: String
    public var chain: String?
    public var tls: TLSConfig?
    public var metadata: Metadata?

    public init(type: String, chain: String? = nil, tls: TLSConfig? = nil, metadata: Metadata? = nil) {
        self.type = type
        self.chain = chain
        self.tls = tls
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, chain, tls, metadata }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        chain = try c.decodeIfPresent(String.self, forKey: .chain)
        tls = try c.decodeIfPresent(TLSConfig.self, forKey: .tls)
        metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
    }
}

/// GOST's `tls` section, for listeners (certFile, keyFile, caFile) and dialers (serverName, secure, caFile).
public struct TLSConfig: Codable, Sendable, Equatable {
    public var certFile: String?
    public var keyFile: String?
    public var caFile: String?
    public var serverName: String?
    public var secure: Bool?

    public init(certFile: String? = nil, keyFile: String? = nil, caFile: String? = nil, serverName: String? = nil, secure: Bool? = nil) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.serverName = serverName
        self.secure = secure
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case certFile, keyFile, caFile, serverName, secure }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        certFile = try c.decodeIfPresent(String.self, forKey: .certFile)
        keyFile = try c.decodeIfPresent(String.self, forKey: .keyFile)
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
        serverName = try c.decodeIfPresent(String.self, forKey: .serverName)
        secure = try c.decodeIfPresent(Bool.self, forKey: .secure)
    }

    public var options: TLSOptions {
        TLSOptions(certFile: certFile, keyFile: keyFile, caFile: caFile, serverName: serverName, secure: secure ?? false)
    }
}

public struct ForwarderConfig: Codable, Sendable, Equatable {
    public var nodes: [ForwardNodeConfig]
    public var selector: SelectorConfig?

    public init(nodes: [ForwardNodeConfig], selector: SelectorConfig? = nil) {
        self.nodes = nodes
        self.selector = selector
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case nodes, selector }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nodes = try c.decodeIfPresent([ForwardNodeConfig].self, forKey: .nodes) ?? []
        selector = try c.decodeIfPresent(SelectorConfig.self, forKey: .selector)
    }
}

public struct ForwardNodeConfig: Codable, Sendable, Equatable {
    public var name: String
    public var addr: String

    public init(name: String, addr: String) {
        self.name = name
        self.addr = addr
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, addr }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        addr = try c.decode(LooseString.self, forKey: .addr).value
    }
}

public struct SelectorConfig: Codable, Sendable, Equatable {
    public var strategy: String?
    public var maxFails: Int?
    public var failTimeout: String?

    public init(strategy: String? = nil, maxFails: Int? = nil, failTimeout: String? = nil) {
        self.strategy = strategy
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case strategy, maxFails, failTimeout }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        strategy = try c.decodeIfPresent(String.self, forKey: .strategy)
        maxFails = try c.decodeIfPresent(Int.self, forKey: .maxFails)
        failTimeout = try c.decodeIfPresent(LooseString.self, forKey: .failTimeout)?.value
    }
}

public struct ChainConfig: Codable, Sendable, Equatable {
    public var name: String
    public var hops: [HopConfig]

    public init(name: String, hops: [HopConfig]) {
        self.name = name
        self.hops = hops
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, hops }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        hops = try c.decodeIfPresent([HopConfig].self, forKey: .hops) ?? []
    }
}

public struct HopConfig: Codable, Sendable, Equatable {
    public var name: String
    public var selector: SelectorConfig?
    public var nodes: [NodeConfig]

    public init(name: String, selector: SelectorConfig? = nil, nodes: [NodeConfig]) {
        self.name = name
        self.selector = selector
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, selector, nodes }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        selector = try c.decodeIfPresent(SelectorConfig.self, forKey: .selector)
        nodes = try c.decodeIfPresent([NodeConfig].self, forKey: .nodes) ?? []
    }
}

public struct NodeConfig: Codable, Sendable, Equatable {
    public var name: String
    public var addr: String
    public var connector: ConnectorConfig?
    public var dialer: DialerConfig?

    public init(name: String, addr: String, connector: ConnectorConfig? = nil, dialer: DialerConfig? = nil) {
        self.name = name
        self.addr = addr
        self.connector = connector
        self.dialer = dialer
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, addr, connector, dialer }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        addr = try c.decode(LooseString.self, forKey: .addr).value
        connector = try c.decodeIfPresent(ConnectorConfig.self, forKey: .connector)
        dialer = try c.decodeIfPresent(DialerConfig.self, forKey: .dialer)
    }
}

public struct ConnectorConfig: Codable, Sendable, Equatable {
    public var type: String
    public var auth: Credentials?
    public var metadata: Metadata?

    public init(type: String, auth: Credentials? = nil, metadata: Metadata? = nil) {
        self.type = type
        self.auth = auth
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, auth, metadata }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        auth = try c.decodeIfPresent(StrictCredentials.self, forKey: .auth)?.value
        metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
    }
}

public struct DialerConfig: Codable, Sendable, Equatable {
    public var type: String
    public var tls: TLSConfig?
    public var metadata: Metadata?

    public init(type: String, tls: TLSConfig? = nil, metadata: Metadata? = nil) {
        self.type = type
        self.tls = tls
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, tls, metadata }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        tls = try c.decodeIfPresent(TLSConfig.self, forKey: .tls)
        metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
    }
}

/// `auth {username, password}` with unknown keys refused.
struct StrictCredentials: Decodable {
    var value: Credentials

    enum CodingKeys: String, CodingKey, CaseIterable { case username, password }

    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        value = Credentials(
            username: try c.decodeIfPresent(LooseString.self, forKey: .username)?.value ?? "",
            password: try c.decodeIfPresent(LooseString.self, forKey: .password)?.value ?? "")
    }
}

/// A scalar read as text: YAML turns `addr: 8080` or `password: 1234` into numbers.
struct LooseString: Decodable {
    var value: String

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            value = s
        } else if let i = try? c.decode(Int.self) {
            value = String(i)
        } else if let d = try? c.decode(Double.self) {
            value = String(d)
        } else if let b = try? c.decode(Bool.self) {
            value = String(b)
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a scalar"))
        }
    }
}
