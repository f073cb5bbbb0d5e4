import NIOSSL

/// Type names (`http`, `socks5`, `tcp`, `tls`, ...) to implementations. Config parsing only looks
/// names up here, so a new protocol is one file plus one line in `Registry.standard`.
public struct Registry: Sendable {
    public typealias HandlerFactory = @Sendable (HandlerSpec) throws -> AnyHandler
    public typealias ListenerFactory = @Sendable (ListenerSpec) throws -> AnyListener
    public typealias DialerFactory = @Sendable (ComponentOptions) throws -> any Dialer
    public typealias ConnectorFactory = @Sendable (ComponentOptions) throws -> any Connector

    public var handlers: [String: HandlerFactory] = [:]
    public var listeners: [String: ListenerFactory] = [:]
    public var dialers: [String: DialerFactory] = [:]
    public var connectors: [String: ConnectorFactory] = [:]
    /// Top-level config sections the binary's modules contribute (the relay's `ingresses:`).
    public var configSections: [any ConfigSection.Type] = []
    /// Listener types' traits (`ListenerTraits`); a type not listed has none.
    public var listenerTraits: [String: ListenerTraits] = [:]
    /// Handler types' traits (`HandlerTraits`); a type not listed has none.
    public var traits: [String: HandlerTraits] = [:]
    /// Every metadata key some component of this registry (or a config form the binary accepts)
    /// reads; others are reported at start (`Config.unknownMetadataKeys`).
    public var metadataKeys: Set<String> = []

    public init() {}

    /// What a handler factory is given.
    public struct HandlerSpec: Sendable {
        public var options: ComponentOptions
        public var auth: Authenticator
        /// The config's contributed sections, for handlers that refer to one (the relay's
        /// `tunnel` handler names an `ingresses:` entry).
        public var sections = ConfigSections()
        /// The TLS settings of the service's listener (nil when it has none), for a handler that
        /// also accepts its protocol on another service's port (the relay's agent endpoint on
        /// the HTTPS port) and must terminate TLS there the same way.
        public var listenerTLS: TLSOptions? = nil
        /// The name of the service being built (its handler may be built again under the same
        /// name when a reload restarts the service).
        public var service: String = ""
    }

    /// What a listener factory is given.
    public struct ListenerSpec: Sendable {
        public var options: ComponentOptions
        /// The service being built, and its path in the config (`services[0]`), for listeners
        /// that need more than their own options (a remote listener serves the service's port).
        public var service: ServiceConfig? = nil
        public var path: String = ""
        /// The listener's chain as configured (`listener.chain`), for a type whose traits say it
        /// `usesChain`; it is not built into a `Chain` (its last node may be one only that
        /// listener understands, such as the relay's `tunnel`).
        public var chain: ChainConfig? = nil
    }

    /// Every protocol this engine ships.
    public static let standard: Registry = {
        var r = Registry()
        r.handlers["http"] = { .stream(HTTPHandler(options: $0.options, auth: $0.auth)) }
        r.handlers["socks5"] = { .stream(SOCKS5Handler(options: $0.options, auth: $0.auth)) }
        r.handlers["socks"] = r.handlers["socks5"]
        r.handlers["socks4"] = { .stream(SOCKS4Handler(options: $0.options, auth: $0.auth)) }
        r.handlers["socks4a"] = r.handlers["socks4"]
        r.handlers["auto"] = { .stream(AutoHandler(options: $0.options, auth: $0.auth)) }
        r.handlers["tcp"] = { .stream(TCPForwardHandler(options: $0.options)) }
        r.handlers["forward"] = r.handlers["tcp"]
        r.handlers["udp"] = { .datagram(UDPForwardHandler(options: $0.options)) }
        for forwarding in ["tcp", "forward", "udp"] { r.traits[forwarding, default: HandlerTraits()].needsForwarder = true }

        r.listeners["tcp"] = { spec in .stream(TCPListener(counting: spec.service?.name)) }
        r.listeners["tls"] = { spec in
            let tls = spec.options.tls ?? TLSOptions()
            return .stream(TCPListener(tls: try tls.makeServerContext(), requiresClientCertificate: tls.requiresClientCertificate, counting: spec.service?.name))
        }
        r.listeners["udp"] = { _ in .datagram(UDPListener()) }
        r.listenerTraits["udp"] = ListenerTraits(namedByScheme: true)

        r.dialers["tcp"] = { _ in TCPDialer() }
        r.dialers["tls"] = { try TLSDialer(options: $0.tls ?? TLSOptions()) }

        r.connectors["http"] = { HTTPConnector(options: $0) }
        r.connectors["socks5"] = { SOCKS5Connector(options: $0) }
        r.connectors["socks"] = r.connectors["socks5"]
        r.connectors["socks4"] = { SOCKS4Connector(options: $0) }
        r.connectors["socks4a"] = r.connectors["socks4"]
        r.declare(TLSText.self)
        r.declare(SOCKS5Options.self)
        r.declare(UDPForwardOptions.self)
        return r
    }()
}
