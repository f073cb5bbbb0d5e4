import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs every configured service until shutdown (SIGINT/SIGTERM through `ServiceGroup`).
/// If one service cannot start (its port is taken), the engine stops with that error.
///
/// A reload (`EngineControl.apply`) stops some services and starts others while the rest keep
/// running, their connections untouched; a service a reload starts that cannot bind is reported
/// to the reload, not fatal (the others go on).
public struct Engine: Service {
    public var services: [ServiceRuntime]
    public var group: EventLoopGroup
    public var bound: @Sendable (String, SocketAddress) -> Void
    public let control: EngineControl

    public init(
        services: [ServiceRuntime], group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, control: EngineControl = EngineControl(),
        bound: @escaping @Sendable (String, SocketAddress) -> Void = { _, _ in }
    ) {
        self.services = services
        self.group = group
        self.control = control
        self.bound = bound
    }

    /// What happened to a service task.
    enum Ended: Sendable {
        case stopped
        case failed(any Error)
    }

    public func run() async throws {
        let control = self.control
        let group = self.group
        let bound = self.bound
        control.running(services)
        // On SIGTERM/SIGINT the listeners close (cancellation) and the engine returns.
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for service in services {
                    tasks.addTask { try await Self.supervise(service, group: group, control: control, bound: bound, fatal: true) }
                }
                // Reloads arrive here; the body ends when the engine is cancelled (shutdown).
                tasks.addTask {
                    for await command in control.commands {
                        if Task.isCancelled { break }
                        for name in command.stop { await control.stop(name) }
                        var failures: [String: any Error] = [:]
                        await withTaskGroup(of: (String, (any Error)?).self) { starting in
                            for service in command.start {
                                starting.addTask {
                                    let ready = ReadySignal()
                                    // A started service lives in the engine's group, so shutdown ends it.
                                    control.spawn(service.name) {
                                        try await Self.supervise(service, group: group, control: control, bound: { name, address in
                                            bound(name, address)
                                            ready.fire(nil)
                                        }, fatal: false, ready: ready)
                                    }
                                    return (service.name, await ready.wait())
                                }
                            }
                            for await (name, error) in starting { if let error { failures[name] = error } }
                        }
                        control.running(command.start.filter { failures[$0.name] == nil })
                        command.reply(failures)
                    }
                }
                // A service a reload stopped ends quietly; one that fails throws (and ends the rest).
                while try await tasks.next() != nil {}
            }
        }
        await control.stopAll()
    }

    /// Runs `service` until it ends, is stopped by a reload, or the engine is cancelled. A
    /// failure ends the engine when `fatal` (the services of the first start); a service a reload
    /// started reports a failure to listen to `ready`, and a later one to the log.
    static func supervise(
        _ service: ServiceRuntime, group: EventLoopGroup, control: EngineControl, bound: @escaping @Sendable (String, SocketAddress) -> Void, fatal: Bool,
        ready: ReadySignal? = nil
    ) async throws {
        let stop = control.stopSignal(for: service.name)
        defer { control.ended(service.name, signal: stop) }
        do {
            try await withThrowingTaskGroup(of: Void.self) { inner in
                inner.addTask { try await service.run(group: group, bound: bound) }
                inner.addTask {
                    await stop.wait()
                    throw CancellationError()
                }
                defer { inner.cancelAll() }
                try await inner.next()
            }
            ready?.fire(nil)
        } catch is CancellationError {
            ready?.fire(nil)
        } catch {
            let wrapped = EngineError(.connectFailed, "service \(service.name) on \(service.address): \(error)")
            if fatal { throw wrapped }
            if let ready, !ready.fired {
                ready.fire(wrapped)
            } else {
                service.context.logger.error("service stopped", metadata: ["service": "\(service.name)", "error": "\(error)"])
            }
        }
    }
}

/// Fires once: a service a reload started is listening (nil) or could not start (its error).
final class ReadySignal: Sendable {
    private let state = NIOLockedValueBox<(fired: Bool, value: (any Error)?, waiters: [CheckedContinuation<(any Error)?, Never>])>((false, nil, []))

    var fired: Bool { state.withLockedValue { $0.fired } }

    func fire(_ error: (any Error)?) {
        let waiters: [CheckedContinuation<(any Error)?, Never>] = state.withLockedValue { s in
            guard !s.fired else { return [] }
            s.fired = true
            s.value = error
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: error) }
    }

    func wait() async -> (any Error)? {
        await withCheckedContinuation { c in
            let now: (any Error)?? = state.withLockedValue { s in
                if s.fired { return .some(s.value) }
                s.waiters.append(c)
                return .none
            }
            if let now { c.resume(returning: now) }
        }
    }
}
