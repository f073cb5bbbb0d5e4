import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs every configured service until shutdown (SIGINT/SIGTERM through `ServiceGroup`).
/// If one service cannot start (its port is taken), the engine stops with that error.
public struct Engine: Service {
    public var services: [ServiceRuntime]
    public var group: EventLoopGroup
    public var bound: @Sendable (String, SocketAddress) -> Void

    public init(services: [ServiceRuntime], group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, bound: @escaping @Sendable (String, SocketAddress) -> Void = { _, _ in }) {
        self.services = services
        self.group = group
        self.bound = bound
    }

    public func run() async throws {
        // On SIGTERM/SIGINT the listeners close (cancellation) and the engine returns.
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for service in services {
                    tasks.addTask {
                        do {
                            try await service.run(group: group, bound: bound)
                        } catch is CancellationError {
                        } catch {
                            throw EngineError(.connectFailed, "service \(service.name) on \(service.address): \(error)")
                        }
                    }
                }
                try await tasks.waitForAll()
            }
        }
    }
}
