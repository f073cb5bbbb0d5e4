import Logging
import ServiceLifecycle
import TunnelProtocol

/// Drains the relay's agent sessions at shutdown, without cutting a stream. (To drain while
/// running, e.g. to move agents to another relay behind the same address: `POST /api/drain`;
/// SIGHUP reloads the configuration.)
///
/// - Graceful shutdown (SIGTERM/SIGINT): the engine's listeners close first (this service is shut
///   down after the engine, so no new session arrives), then every session gets GOAWAY and the
///   relay waits up to `drainTimeout` for their streams to finish before it exits.
public struct RelayDrainService: Service {
    public let sessions: LiveSessions
    public let drainTimeout: Duration
    public let logger: Logger

    public init(sessions: LiveSessions, drainTimeout: Duration, logger: Logger) {
        self.sessions = sessions
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    public func run() async throws {
        let sessions = self.sessions
        let logger = self.logger
        do {
            // Returns when graceful shutdown starts (or throws when cancelled: no drain then).
            try await gracefulShutdown()
            let open = sessions.count
            logger.info("draining agent sessions before exit", metadata: ["sessions": "\(open)", "timeout": "\(drainTimeout)"])
            let cut = await sessions.drain(reason: "relay shutting down", timeout: drainTimeout)
            if cut > 0 {
                logger.warning("drain timed out: closed the remaining agent sessions", metadata: ["sessions": "\(cut)"])
            } else {
                logger.info("agent sessions drained")
            }
        } catch {}
    }
}
