import Foundation
import Logging

/// Turns a decoded `Config` into runnable services, checking every reference and type name first,
/// so a bad config is refused with its path before anything listens.
public struct EngineBuilder {
    public var registry: Registry
    public var logger: Logger

    public init(registry: Registry = .standard, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    public func build(_ config: Config) throws -> [ServiceRuntime] {
        try build(config, only: nil)
    }

    /// Builds the services of `config` named in `only` (all when nil), after checking the whole
    /// config (chains, sections, names) as `build` does.
    public func build(_ config: Config, only: Set<String>?) throws -> [ServiceRuntime] {
        var chains: [String: Chain] = [:]
        var chainConfigs: [String: ChainConfig] = [:]
        // A chain that only listeners accepting through it use is theirs to read (its last node
        // may be one only they understand); every other chain is built, used or not.
        let services = config.services ?? []
        let handlerChains = Set(services.compactMap(\.handler.chain))
        let listenerChains = Set(services.filter { registry.listenerTraits[$0.listener.type]?.usesChain == true }.compactMap(\.listener.chain))
        for (ci, chain) in (config.chains ?? []).enumerated() {
            let path = "chains[\(ci)]"
            guard !chain.name.isEmpty else { throw ConfigError(path: "\(path).name", reason: "a chain needs a name") }
            guard chainConfigs[chain.name] == nil else { throw ConfigError(path: "\(path).name", reason: "duplicate chain name \"\(chain.name)\"") }
            chainConfigs[chain.name] = chain
            if listenerChains.contains(chain.name) && !handlerChains.contains(chain.name) { continue }
            chains[chain.name] = try buildChain(chain, path: path)
        }
        for section in config.sections.all { try section.validate() }
        var runtimes: [ServiceRuntime] = []
        var names: Set<String> = []
        for (si, service) in services.enumerated() {
            let path = "services[\(si)]"
            var s = service
            if s.name.isEmpty { s.name = "service-\(si)" }
            guard names.insert(s.name).inserted else { throw ConfigError(path: "\(path).name", reason: "duplicate service name \"\(s.name)\"") }
            if only?.contains(s.name) ?? true {
                runtimes.append(try buildService(s, path: path, chains: chains, chainConfigs: chainConfigs, sections: config.sections))
            }
            for extra in registry.traits[s.handler.type]?.companions?(s) ?? [] {
                guard names.insert(extra.name).inserted else { throw ConfigError(path: "\(path).name", reason: "duplicate service name \"\(extra.name)\"") }
                if only?.contains(extra.name) ?? true {
                    runtimes.append(try buildService(extra, path: "\(path).handler.metadata", chains: chains, chainConfigs: chainConfigs, sections: config.sections))
                }
            }
        }
        return runtimes
    }

    func buildService(_ s: ServiceConfig, path: String, chains: [String: Chain], chainConfigs: [String: ChainConfig] = [:], sections: ConfigSections = ConfigSections()) throws -> ServiceRuntime {
        let address: HostPort
        do { address = try HostPort(parsing: s.addr) } catch { throw ConfigError(path: "\(path).addr", reason: "\(error)") }

        guard let handlerFactory = registry.handlers[s.handler.type] else {
            throw ConfigError(path: "\(path).handler.type", reason: "unknown handler type \"\(s.handler.type)\" (known: \(registry.handlers.keys.sorted().joined(separator: ", ")))")
        }
        guard let listenerFactory = registry.listeners[s.listener.type] else {
            throw ConfigError(path: "\(path).listener.type", reason: "unknown listener type \"\(s.listener.type)\" (known: \(registry.listeners.keys.sorted().joined(separator: ", ")))")
        }
        var chain: Chain?
        if let name = s.handler.chain {
            guard let c = chains[name] else { throw ConfigError(path: "\(path).handler.chain", reason: "no chain named \"\(name)\"") }
            chain = c
        }
        var listenerChain: ChainConfig?
        if let name = s.listener.chain {
            guard let c = chainConfigs[name] else { throw ConfigError(path: "\(path).listener.chain", reason: "no chain named \"\(name)\"") }
            guard registry.listenerTraits[s.listener.type]?.usesChain == true else {
                throw ConfigError(path: "\(path).listener.chain", reason: "listener type \"\(s.listener.type)\" does not use a chain")
            }
            listenerChain = c
        }

        var handlerMeta = s.metadata ?? Metadata()
        for (k, v) in (s.handler.metadata ?? Metadata()).values { handlerMeta[k] = v }
        let credentials = (s.handler.auth.map { [$0] } ?? []) + (s.handler.auths ?? [])
        let handlerOptions = ComponentOptions(metadata: handlerMeta, auth: s.handler.auth)
        var listenerTLS = s.listener.tls?.options ?? TLSText(metadata: s.listener.metadata)?.applied(to: TLSOptions())
        let traits = registry.traits[s.handler.type] ?? HandlerTraits()
        if traits.requiresTLS13 {
            listenerTLS = listenerTLS ?? TLSOptions()
            listenerTLS?.requireTLS13 = true
        }
        if !traits.applicationProtocols.isEmpty, s.listener.type == "tls" {
            listenerTLS = listenerTLS ?? TLSOptions()
            listenerTLS?.applicationProtocols = traits.applicationProtocols
        }
        let handler: AnyHandler
        do {
            handler = try handlerFactory(.init(options: handlerOptions, auth: Authenticator(credentials), sections: sections, listenerTLS: s.listener.type == "tls" ? listenerTLS ?? TLSOptions() : nil, service: s.name))
        } catch let error as ConfigError where error.path.hasPrefix("handler.") {
            // A factory names the key it refused relative to the service (`handler.metadata.x`).
            throw ConfigError(path: "\(path).\(error.path)", reason: error.reason)
        } catch {
            throw ConfigError(path: "\(path).handler", reason: "\(error)")
        }
        let listenerOptions = ComponentOptions(metadata: s.listener.metadata ?? Metadata(), tls: listenerTLS)
        let listener: AnyListener
        do {
            listener = try listenerFactory(.init(options: listenerOptions, service: s, path: path, chain: listenerChain))
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(path: "\(path).listener.tls", reason: "cannot set up TLS: \(error)")
        }
        switch (handler, listener) {
        case (.stream, .stream), (.datagram, .datagram): break
        default:
            throw ConfigError(path: "\(path).listener.type", reason: "handler \"\(s.handler.type)\" cannot run on a \"\(s.listener.type)\" listener")
        }

        var forwarder: Forwarder?
        if let f = s.forwarder {
            var nodes: [Node] = []
            for (ni, n) in f.nodes.enumerated() {
                let np = "\(path).forwarder.nodes[\(ni)]"
                do {
                    let a = try HostPort(parsing: n.addr)
                    nodes.append(Node(name: n.name.isEmpty ? "target-\(ni)" : n.name, address: a))
                } catch {
                    throw ConfigError(path: "\(np).addr", reason: "\(error)")
                }
            }
            forwarder = Forwarder(nodes: nodes, options: try selectorOptions(f.selector, path: "\(path).forwarder.selector"))
        }
        if traits.needsForwarder, forwarder?.selector.nodes.isEmpty ?? true {
            throw ConfigError(path: "\(path).forwarder.nodes", reason: "the \(s.handler.type) handler needs at least one target node")
        }
        var serviceLogger = logger
        serviceLogger[metadataKey: "service"] = "\(s.name)"
        let context = HandlerContext(serviceName: s.name, router: Router(chain: chain), forwarder: forwarder, logger: serviceLogger)
        var runtime = ServiceRuntime(name: s.name, address: address, handlerType: s.handler.type, listenerType: s.listener.type, listener: listener, handler: handler, context: context)
        runtime.connectionLimiter = traits.connectionLimiter
        runtime.signature = Self.signature(of: s, chainConfigs: chainConfigs)
        return runtime
    }

    /// What a service was built from, as text: its config and the chains it uses. A reload
    /// restarts a service only when this changed.
    static func signature(of s: ServiceConfig, chainConfigs: [String: ChainConfig]) -> String {
        struct Built: Encodable {
            var service: ServiceConfig
            var chains: [ChainConfig]
        }
        let chains = [s.handler.chain, s.listener.chain].compactMap { $0.flatMap { chainConfigs[$0] } }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(Built(service: s, chains: chains))).map { String(decoding: $0, as: UTF8.self) } ?? UUID().uuidString
    }

    /// Every service `config` would run (companions included), by name, with its signature,
    /// without building any: what a reload compares with what runs.
    public func signatures(_ config: Config) -> [String: String] {
        var chainConfigs: [String: ChainConfig] = [:]
        for chain in config.chains ?? [] { chainConfigs[chain.name] = chain }
        var out: [String: String] = [:]
        for (si, service) in (config.services ?? []).enumerated() {
            var s = service
            if s.name.isEmpty { s.name = "service-\(si)" }
            out[s.name] = Self.signature(of: s, chainConfigs: chainConfigs)
            for extra in registry.traits[s.handler.type]?.companions?(s) ?? [] {
                out[extra.name] = Self.signature(of: extra, chainConfigs: chainConfigs)
            }
        }
        return out
    }

    /// The chain `name` of `config`, built (for a component outside the services that goes
    /// through a chain: the agent's way to its relay). Errors name the chain's path.
    public func chain(named name: String, in config: Config) throws -> Chain {
        guard let index = (config.chains ?? []).firstIndex(where: { $0.name == name }) else {
            throw ConfigError(path: "chains", reason: "no chain named \"\(name)\"")
        }
        return try buildChain(config.chains![index], path: "chains[\(index)]")
    }

    /// `chain` built, its errors at `path`.
    public func buildChain(_ chain: ChainConfig, path: String) throws -> Chain {
        var hops: [Hop] = []
        for (hi, hop) in chain.hops.enumerated() {
            let hp = "\(path).hops[\(hi)]"
            guard !hop.nodes.isEmpty else { throw ConfigError(path: "\(hp).nodes", reason: "a hop needs at least one node") }
            var nodes: [Node] = []
            for (ni, n) in hop.nodes.enumerated() {
                let np = "\(hp).nodes[\(ni)]"
                let address: HostPort
                do { address = try HostPort(parsing: n.addr) } catch { throw ConfigError(path: "\(np).addr", reason: "\(error)") }
                let connectorType = n.connector?.type ?? "http"
                let dialerType = n.dialer?.type ?? "tcp"
                guard let cf = registry.connectors[connectorType] else {
                    throw ConfigError(path: "\(np).connector.type", reason: "unknown connector type \"\(connectorType)\" (known: \(registry.connectors.keys.sorted().joined(separator: ", ")))")
                }
                guard let df = registry.dialers[dialerType] else {
                    throw ConfigError(path: "\(np).dialer.type", reason: "unknown dialer type \"\(dialerType)\" (known: \(registry.dialers.keys.sorted().joined(separator: ", ")))")
                }
                let connector = try cf(ComponentOptions(metadata: n.connector?.metadata ?? Metadata(), auth: n.connector?.auth))
                let dialer: any Dialer
                do {
                    dialer = try df(ComponentOptions(metadata: n.dialer?.metadata ?? Metadata(), tls: n.dialer?.tls?.options ?? TLSText(metadata: n.dialer?.metadata)?.applied(to: TLSOptions())))
                } catch {
                    throw ConfigError(path: "\(np).dialer.tls", reason: "cannot set up TLS: \(error)")
                }
                nodes.append(Node(name: n.name.isEmpty ? "node-\(ni)" : n.name, address: address, dialer: dialer, connector: connector))
            }
            hops.append(Hop(name: hop.name.isEmpty ? "hop-\(hi)" : hop.name, nodes: nodes, options: try selectorOptions(hop.selector, path: "\(hp).selector")))
        }
        return Chain(name: chain.name, hops: hops)
    }

    func selectorOptions(_ s: SelectorConfig?, path: String) throws -> SelectorOptions {
        var o = SelectorOptions()
        guard let s else { return o }
        if let strategy = s.strategy {
            guard let st = SelectionStrategy(rawValue: strategy) else {
                throw ConfigError(path: "\(path).strategy", reason: "unknown strategy \"\(strategy)\" (known: round, rand, fifo)")
            }
            o.strategy = st
        }
        if let m = s.maxFails {
            guard m >= 1 else { throw ConfigError(path: "\(path).maxFails", reason: "must be at least 1") }
            o.maxFails = m
        }
        if let t = s.failTimeout {
            guard let d = GoDuration.parse(t) else { throw ConfigError(path: "\(path).failTimeout", reason: "not a duration: \"\(t)\" (e.g. 10s, 1m)") }
            o.failTimeout = d
        }
        return o
    }
}
