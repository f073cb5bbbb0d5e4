import Foundation
import Logging
import Operations
import Shared

/// What a binary re-reads beside the engine's services (the relay: tokens, rules, certificates).
public struct ReloadHooks: Sendable {
    /// A registry with throwaway state, to build a new config completely without touching the
    /// running one (a refused config must change nothing).
    public var scratchRegistry: @Sendable () -> Registry
    /// Checks what the config does not hold (a tokens file), throwing a `ConfigError`.
    public var validate: @Sendable (Config) throws -> Void
    /// Puts what changed in force; returns the changes, one line each.
    public var apply: @Sendable (Config) throws -> [String]
    /// What the binary changes in every config it reads (as at start: the relay's `--client-ca`).
    public var adjust: (@Sendable (inout Config) -> Void)?

    public init(
        scratchRegistry: @escaping @Sendable () -> Registry, validate: @escaping @Sendable (Config) throws -> Void,
        apply: @escaping @Sendable (Config) throws -> [String], adjust: (@Sendable (inout Config) -> Void)? = nil
    ) {
        self.scratchRegistry = scratchRegistry
        self.validate = validate
        self.apply = apply
        self.adjust = adjust
    }
}

/// Re-reads the config (SIGHUP, `POST /api/reload`) and applies what changed: services whose
/// config (or chain) changed restart, new ones start, removed ones stop; the others keep their
/// listeners and connections. The whole new config is built first with throwaway state, so an
/// invalid one is refused with its path and the running config stays. One reload at a time.
public actor EngineReloader {
    let load: @Sendable () throws -> Config
    let registry: Registry
    let hooks: ReloadHooks
    let control: EngineControl
    let logger: Logger

    public init(load: @escaping @Sendable () throws -> Config, registry: Registry, hooks: ReloadHooks, control: EngineControl, logger: Logger) {
        self.load = load
        self.registry = registry
        self.hooks = hooks
        self.control = control
        self.logger = logger
    }

    static func refusal(_ error: any Error) -> ReloadOutcome {
        if let e = error as? ConfigError { return ReloadOutcome(changes: [], failed: [:], error: e.reason, path: e.path) }
        return ReloadOutcome(changes: [], failed: [:], error: "\(error)", path: nil)
    }

    public func reload() async -> ReloadOutcome {
        let config: Config
        do {
            config = try load()
            _ = try EngineBuilder(registry: hooks.scratchRegistry(), logger: logger).build(config)
            try hooks.validate(config)
        } catch {
            let outcome = Self.refusal(error)
            logger.error("reload refused; the running configuration stays", metadata: ["error": "\(outcome.error ?? "")", "path": "\(outcome.path ?? "")"])
            return outcome
        }
        let wanted = EngineBuilder(registry: registry, logger: logger).signatures(config)
        let running = control.running
        let stop = running.keys.filter { wanted[$0] != running[$0] }.sorted()
        let start = wanted.keys.filter { running[$0] != wanted[$0] }.sorted()
        var changes: [String] = []
        do {
            changes += try hooks.apply(config)
            let built = try EngineBuilder(registry: registry, logger: logger).build(config, only: Set(start))
            let failed = await control.apply(stop: stop, start: built)
            for name in stop where !start.contains(name) { changes.append("service \(name) stopped") }
            for name in start where failed[name] == nil { changes.append(running[name] == nil ? "service \(name) started" : "service \(name) restarted") }
            let outcome = ReloadOutcome(changes: changes, failed: failed.mapValues { "\($0)" }, error: nil, path: nil)
            logger.notice("configuration reloaded", metadata: ["changes": "\(changes)", "failed": "\(outcome.failed)"])
            return outcome
        } catch {
            var outcome = Self.refusal(error)
            outcome.changes = changes
            logger.error("reload failed part way", metadata: ["error": "\(error)", "applied": "\(changes)"])
            return outcome
        }
    }
}
