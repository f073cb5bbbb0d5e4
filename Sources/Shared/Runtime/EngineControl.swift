import NIOConcurrencyHelpers

/// How a reload talks to the running `Engine`: which services run (by name, with the config
/// they were built from), and commands to stop some and start others.
///
/// Why a separate object: the engine runs inside a `ServiceGroup` and its services in its own
/// task group; a reload (SIGHUP, the admin API) comes from elsewhere and must wait for the
/// outcome (which new services could listen) to report it.
public final class EngineControl: Sendable {
    struct Command: Sendable {
        var stop: [String]
        var start: [ServiceRuntime]
        var reply: @Sendable ([String: any Error]) -> Void
    }

    let commands: AsyncStream<Command>
    private let continuation: AsyncStream<Command>.Continuation

    private struct State {
        /// Running services: name → the signature of what built them.
        var running: [String: String] = [:]
        var stops: [String: StopSignal] = [:]
        var endings: [String: StopSignal] = [:]
        var spawned: [Task<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {
        (commands, continuation) = AsyncStream.makeStream(of: Command.self)
    }

    /// The services running now: name → signature (`ServiceRuntime.signature`).
    public var running: [String: String] { state.withLockedValue { $0.running } }

    /// Stops the services named `stop`, then starts `start`; returns the errors of those that
    /// could not start, by name. Only while the engine runs (else every start fails).
    public func apply(stop: [String], start: [ServiceRuntime]) async -> [String: any Error] {
        await withCheckedContinuation { c in
            let result = continuation.yield(Command(stop: stop, start: start) { c.resume(returning: $0) })
            if case .terminated = result {
                c.resume(returning: Dictionary(uniqueKeysWithValues: start.map { ($0.name, EngineError(.connectFailed, "the engine is not running") as any Error) }))
            }
        }
    }

    func running(_ services: [ServiceRuntime]) {
        state.withLockedValue { s in for service in services { s.running[service.name] = service.signature } }
    }

    /// A fresh signal that stops the service `name` (its previous one, if any, was used).
    func stopSignal(for name: String) -> StopSignal {
        let signal = StopSignal()
        state.withLockedValue { s in
            s.stops[name] = signal
            s.endings[name] = StopSignal()
        }
        return signal
    }

    /// The service `name` (run under `signal`) has ended.
    func ended(_ name: String, signal: StopSignal) {
        let ending: StopSignal? = state.withLockedValue { s in
            guard s.stops[name] === signal else { return nil }
            s.stops[name] = nil
            s.running[name] = nil
            return s.endings.removeValue(forKey: name)
        }
        ending?.fire()
    }

    /// Stops the service `name` and waits (10 s at most) until it has ended.
    func stop(_ name: String) async {
        let (signal, ending) = state.withLockedValue { s in (s.stops[name], s.endings[name]) }
        signal?.fire()
        guard let ending else { return }
        await withTaskGroup(of: Void.self) { wait in
            wait.addTask { await ending.wait() }
            wait.addTask { try? await Task.sleep(for: .seconds(10)) }
            await wait.next()
            wait.cancelAll()
        }
    }

    /// Runs `body` (a service a reload started) until the engine stops.
    func spawn(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        let task = Task { _ = try? await body() }
        state.withLockedValue { $0.spawned.append(task) }
    }

    /// The engine is stopping: every service a reload started stops too.
    func stopAll() async {
        continuation.finish()
        let (signals, tasks) = state.withLockedValue { s in (Array(s.stops.values), s.spawned) }
        for signal in signals { signal.fire() }
        for task in tasks { await task.value }
    }
}

/// Fires once; waiters resume then (or at once if it already fired).
final class StopSignal: Sendable {
    private let state = NIOLockedValueBox<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { s in
            guard !s.fired else { return [] }
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { c in
                let now = state.withLockedValue { s in
                    if s.fired { return true }
                    s.waiters.append(c)
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            self.fire()
        }
    }
}
