/// The GOST v3 configuration model (`services`, `chains`, `hops`, `nodes`), decoded strictly:
/// GOST's key names, unknown keys refused with their path.
///
/// Every config type here only declares its fields and `CodingKeys: CaseIterable`; its decoding is
/// synthesized, and made strict by `StrictDecoder` (`ConfigLoader` decodes through it). A field
/// that takes GOST's default when its key is left out is marked `@OrDefault`; the keys whose
/// values are text whatever scalar YAML wrote (`addr: 8080`) say so with `TextKeys`.
public struct Config: Codable, Sendable, Equatable {
    public var services: [ServiceConfig]?
    public var chains: [ChainConfig]?
    public var log: LogConfig?
    /// Top-level sections other modules contribute (the relay's `ingresses:`), decoded when the
    /// binary offers them (`ConfigLoader.parse(_:sections:)`) and refused otherwise.
    public var sections = ConfigSections()

    public init(services: [ServiceConfig]? = nil, chains: [ChainConfig]? = nil, log: LogConfig? = nil) {
        self.services = services
        self.chains = chains
        self.log = log
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case services, chains, log }

    /// The one config type that decodes itself: its level also holds the contributed sections,
    /// which are known only at run time (the decoder's `userInfo`), so the unknown-key check
    /// here counts them as known; every level below is checked by `StrictDecoder`.
    public init(from decoder: any Decoder) throws {
        let types = decoder.userInfo[.configSections] as? [any ConfigSection.Type] ?? []
        try StrictDecoder.rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue) + types.map { $0.key }))
        let c = try decoder.container(keyedBy: AnyKey.self)
        services = try c.decodeIfPresent([ServiceConfig].self, forKey: AnyKey(stringValue: CodingKeys.services.rawValue))
        chains = try c.decodeIfPresent([ChainConfig].self, forKey: AnyKey(stringValue: CodingKeys.chains.rawValue))
        log = try c.decodeIfPresent(LogConfig.self, forKey: AnyKey(stringValue: CodingKeys.log.rawValue))
        for type in types {
            if let section = try type.decodeIfPresent(from: c) { sections.values[type.key] = section }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encodeIfPresent(services, forKey: AnyKey(stringValue: CodingKeys.services.rawValue))
        try c.encodeIfPresent(chains, forKey: AnyKey(stringValue: CodingKeys.chains.rawValue))
        try c.encodeIfPresent(log, forKey: AnyKey(stringValue: CodingKeys.log.rawValue))
        for section in sections.all { try section.encode(into: &c) }
    }
}

/// GOST's `log` section: only the level is read (`-D` overrides it).
public struct LogConfig: Codable, Sendable, Equatable {
    /// trace, debug, info, warn, error.
    public var level: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case level }

    public init(level: String? = nil) { self.level = level }
}

/// One GOST service: an address, a listener that accepts there and a handler that serves what it
/// accepts, with the forwarder nodes of a port forward.
public struct ServiceConfig: Codable, Sendable, Equatable {
    @OrDefault public var name: String
    public var addr: String
    /// GOST's `auto` when left out.
    @OrDefault public var handler: HandlerConfig
    /// `tcp` when left out.
    @OrDefault public var listener: ListenerConfig
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

    enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
        case name, addr, handler, listener, forwarder, metadata
        var isText: Bool { self == .addr }
    }
}

extension HandlerConfig: DefaultWhenMissing {
    /// A service's handler when it names none: GOST's `auto` (HTTP, SOCKS4 and SOCKS5 on one port).
    public static var whenMissing: HandlerConfig { HandlerConfig(type: "auto") }
}

extension ListenerConfig: DefaultWhenMissing {
    /// A service's listener when it names none: plain TCP.
    public static var whenMissing: ListenerConfig { ListenerConfig(type: "tcp") }
}

/// A service's handler: its type (`http`, `socks5`, `tcp`, …), the chain it dials through, the
/// credentials it demands and its free-form metadata.
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
}

/// A service's listener: its type (`tcp`, `tls`, `udp`, the agent's `rtcp`/`rudp`), the chain a
/// remote listener accepts through, its TLS section and metadata.
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


    public var options: TLSOptions {
        TLSOptions(certFile: certFile, keyFile: keyFile, caFile: caFile, serverName: serverName, secure: secure ?? false)
    }
}

/// The targets of a port forward (`tcp`, `udp`, `rtcp`), with how one is picked.
public struct ForwarderConfig: Codable, Sendable, Equatable {
    @OrDefault public var nodes: [ForwardNodeConfig]
    public var selector: SelectorConfig?

    public init(nodes: [ForwardNodeConfig], selector: SelectorConfig? = nil) {
        self.nodes = nodes
        self.selector = selector
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case nodes, selector }
}

/// One forward target: a name and an address.
public struct ForwardNodeConfig: Codable, Sendable, Equatable {
    @OrDefault public var name: String
    public var addr: String

    public init(name: String, addr: String) {
        self.name = name
        self.addr = addr
    }

    enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
        case name, addr
        var isText: Bool { self == .addr }
    }
}

/// How a hop or forwarder picks a node (GOST's `strategy`, `maxFails`, `failTimeout`).
public struct SelectorConfig: Codable, Sendable, Equatable {
    public var strategy: String?
    public var maxFails: Int?
    public var failTimeout: String?

    public init(strategy: String? = nil, maxFails: Int? = nil, failTimeout: String? = nil) {
        self.strategy = strategy
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }

    enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
        case strategy, maxFails, failTimeout
        var isText: Bool { self == .failTimeout }
    }
}

/// A named chain: the hops a connection goes through, in order.
public struct ChainConfig: Codable, Sendable, Equatable {
    public var name: String
    @OrDefault public var hops: [HopConfig]

    public init(name: String, hops: [HopConfig]) {
        self.name = name
        self.hops = hops
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, hops }
}

/// One hop of a chain: the nodes that can serve it and how one is picked.
public struct HopConfig: Codable, Sendable, Equatable {
    @OrDefault public var name: String
    public var selector: SelectorConfig?
    @OrDefault public var nodes: [NodeConfig]

    public init(name: String, selector: SelectorConfig? = nil, nodes: [NodeConfig]) {
        self.name = name
        self.selector = selector
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, selector, nodes }
}

/// A node of a hop: its address, the dialer that reaches it and the connector that asks it for
/// the next hop or the target.
public struct NodeConfig: Codable, Sendable, Equatable {
    @OrDefault public var name: String
    public var addr: String
    public var connector: ConnectorConfig?
    public var dialer: DialerConfig?

    public init(name: String, addr: String, connector: ConnectorConfig? = nil, dialer: DialerConfig? = nil) {
        self.name = name
        self.addr = addr
        self.connector = connector
        self.dialer = dialer
    }

    enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
        case name, addr, connector, dialer
        var isText: Bool { self == .addr }
    }
}

/// A node's connector: the protocol spoken to the node (`http`, `socks5`, the agent's `tunnel`).
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
}

/// A node's dialer: the transport to the node (`tcp`, `tls`), with its TLS section.
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
}

/// A scalar read as text: YAML turns `addr: 8080` or `password: 1234` into numbers. (Yams hands
/// any scalar's text to a `String`; the fallbacks serve decoders that do not.) A mapping or a list
/// is refused as "expected text": what `TextKeys` fields and `Metadata` values say.
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
