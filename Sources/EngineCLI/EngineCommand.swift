import ArgumentParser
import Foundation
import Logging
import NIOCore
import Operations
import Shared
import ServiceLifecycle
import Yams

/// The flags both binaries share, in GOST's spelling.
public struct EngineOptions: ParsableArguments, Sendable {
    @Option(name: .customShort("L"), help: ArgumentHelp("A service, e.g. http://:8080, socks5://user:pass@:1080, :8080 (auto), tcp://:8080/127.0.0.1:80, udp://:10053/127.0.0.1:53. Repeatable.", valueName: "url"))
    public var listen: [String] = []

    @Option(name: .customShort("F"), help: ArgumentHelp("A hop of the chain every -L service uses, e.g. http://host:3128, socks5+tls://user:pass@host:1080. Repeatable, in order.", valueName: "url"))
    public var forward: [String] = []

    @Option(name: .customShort("C"), help: ArgumentHelp("A GOST-style YAML config file (services, chains).", valueName: "file"))
    public var configFile: String?

    @Flag(name: .customShort("D"), help: "Debug logging.")
    public var debug = false

    @Option(name: .customShort("O"), help: ArgumentHelp("Print the configuration the other flags mean, as yaml or json, and exit.", valueName: "format"))
    public var output: String?

    @Option(name: [.customLong("metrics", withSingleDash: true), .customLong("metrics")], help: ArgumentHelp("Serve Prometheus metrics on this address (path /metrics; a `metrics:` section sets path and auth).", valueName: "addr"))
    public var metrics: String?

    @Option(name: [.customLong("api", withSingleDash: true), .customLong("api")], help: ArgumentHelp("Serve the admin API (under /api) and the dashboard (at /) on this address; beyond loopback an `api:` section with auth is required.", valueName: "addr"))
    public var api: String?

    public init() {}

    /// The config the flags describe: the file's services and chains, then the -L/-F ones
    /// (the -F hops form one chain, `cli-chain`, which every -L service uses).
    /// `registry` is what the binary offers: the top-level sections its modules add to the file's
    /// (`configSections`) and its listeners' traits (which listeners a scheme names, and which
    /// take the `-F` chain themselves).
    public func config(registry: Registry = .standard) throws -> Config {
        var config = Config()
        if let file = configFile {
            config = try ConfigLoader.load(path: file, sections: registry.configSections + Self.operationsSections)
        }
        let flags = try URLSpec.config(listen: listen, forward: forward, listeners: registry.listenerTraits)
        // The flags' chain and services get names that cannot clash with the file's.
        var chainName: String?
        if var chains = flags.chains {
            chains[0].name = "cli-chain"
            chainName = chains[0].name
            config.chains = (config.chains ?? []) + chains
        }
        if let services = flags.services {
            config.services = (config.services ?? []) + services.enumerated().map { i, s in
                var s = s
                s.name = "cli-\(i)"
                // For remote forwarding (rtcp/rudp) the chain belongs to the listener, as in GOST.
                if registry.listenerTraits[s.listener.type]?.usesChain == true {
                    s.handler.chain = nil
                    s.listener.chain = chainName
                } else {
                    s.handler.chain = chainName
                }
                return s
            }
        }
        return config
    }

    /// The sections every binary reads beside its own: GOST's `metrics:` and `api:`.
    static let operationsSections: [any ConfigSection.Type] = [MetricsSection.self, APISection.self]

    /// The metrics and admin API the flags (which win) and the file's sections ask for.
    public func operations(_ config: Config) throws -> (metrics: MetricsSettings?, api: APISettings?) {
        try config.sections[MetricsSection.self]?.validate()
        try config.sections[APISection.self]?.validate()
        return (
            try MetricsSettings.resolve(flag: metrics, section: config.sections[MetricsSection.self]),
            try APISettings.resolve(flag: api, section: config.sections[APISection.self])
        )
    }
}

/// Runs an engine from flags, with GOST's exit codes: 2 for a config that cannot run.
public enum EngineMain {
    /// The shared entry point. `defaults` supplies services when no flag names any.
    /// `registry` names the protocols the binary offers; `extraServices` run beside the engine
    /// (the agent's `--relay` tunnel client, the relay's drain service), built once logging is
    /// set up.
    public static func run(
        _ options: EngineOptions,
        program: String,
        registry: Registry = .standard,
        defaults: (@Sendable () throws -> (Config, String))? = nil,
        adminAPI: ((Config, APISettings) -> any AdminAPI)? = nil,
        reloadHooks: ReloadHooks? = nil,
        extraServices: (inout Config, Logger) throws -> [any Service] = { _, _ in [] }
    ) async -> Int32 {
        var config: Config
        do {
            config = try options.config(registry: registry)
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            return 2
        }
        var banner: String?
        if (config.services ?? []).isEmpty, let defaults {
            do {
                // The file's operations sections stay when the services come from the defaults.
                let sections = config.sections
                (config, banner) = try defaults()
                for section in sections.all { config.sections.set(section) }
            } catch {
                FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
                return 1
            }
        }
        let operations: (metrics: MetricsSettings?, api: APISettings?)
        do {
            operations = try options.operations(config)
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            return 2
        }
        if let format = options.output {
            do {
                // Printing checks too: a config that would be refused at start is refused here.
                var checked = config
                for path in config.unknownMetadataKeys(known: registry.metadataKeys) {
                    FileHandle.standardError.write(Data("\(program): warning: \(path): not an option of \(program); ignored (misspelt?)\n".utf8))
                }
                _ = try options.operations(checked)
                _ = try extraServices(&checked, Logger(label: program))
                _ = try EngineBuilder(registry: registry, logger: Logger(label: program)).build(checked)
            } catch {
                FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
                return 2
            }
            do {
                switch format {
                case "yaml": print(try YAMLEncoder().encode(config), terminator: "")
                case "json":
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(config), as: UTF8.self))
                default:
                    FileHandle.standardError.write(Data("\(program): -O takes yaml or json\n".utf8))
                    return 2
                }
            } catch {
                FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
                return 1
            }
            return 0
        }
        var level: Logger.Level = options.debug ? .debug : .info
        if !options.debug, let text = config.log?.level {
            level = Logger.Level(rawValue: text == "warn" ? "warning" : text) ?? .info
        }
        let chosen = level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
        let logger = Logger(label: program)
        for path in config.unknownMetadataKeys(known: registry.metadataKeys) {
            logger.warning("\(path): not an option of \(program); ignored (misspelt?)")
        }
        // Installed before any service exists, so every metric they make records.
        let registryOfMetrics = operations.metrics.map { PrometheusBackend.install(maxHostnames: $0.maxHostnames) }
        let services: [ServiceRuntime]
        var extra: [any Service]
        do {
            extra = try extraServices(&config, logger)
            services = try EngineBuilder(registry: registry, logger: logger).build(config)
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            return 2
        }
        guard !services.isEmpty || !extra.isEmpty else {
            FileHandle.standardError.write(Data("\(program): nothing to run: give -L, or -C with services (see --help)\n".utf8))
            return 2
        }
        let control = EngineControl()
        var reloader: EngineReloader?
        if let reloadHooks {
            // A reload reads the config as this start did: the file and flags, the defaults when
            // they give no service (the file's sections kept), the binary's adjustments.
            let load: @Sendable () throws -> Config = {
                var config = try options.config(registry: registry)
                if (config.services ?? []).isEmpty, let defaults {
                    let sections = config.sections
                    config = try defaults().0
                    for section in sections.all { config.sections.set(section) }
                }
                reloadHooks.adjust?(&config)
                return config
            }
            let r = EngineReloader(load: load, registry: registry, hooks: reloadHooks, control: control, logger: Logger(label: "\(program).reload"))
            reloader = r
            extra.append(ReloadSignalService(reloader: r, logger: logger))
        }
        if let metrics = operations.metrics, let registryOfMetrics {
            extra.append(MetricsServer(address: metrics.address, path: metrics.path, auth: metrics.auth, registry: registryOfMetrics, logger: Logger(label: "\(program).metrics")))
        }
        if let api = operations.api {
            let routes = adminAPI?(config, api) ?? EngineAdminAPI(role: program, prefix: api.pathPrefix)
            var reload: (@Sendable () async -> ReloadOutcome)?
            if let r = reloader {
                reload = { await r.reload() }
            }
            extra.append(AdminServer(settings: api, api: routes, services: ServiceSummary.of(config), reload: reload, logger: Logger(label: "\(program).api")))
        }
        if let banner { FileHandle.standardError.write(Data(banner.utf8)) }
        let engine = Engine(services: services, control: control)
        // Graceful shutdown goes in reverse order: the engine (its listeners close, nothing new is
        // accepted) before the extra services, so the relay's drain sees no new agent session.
        let group = ServiceGroup(services: extra + (services.isEmpty ? [] : [engine]), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
            return 0
        } catch {
            logger.error("stopped", metadata: ["error": "\(error)"])
            return 1
        }
    }
}
