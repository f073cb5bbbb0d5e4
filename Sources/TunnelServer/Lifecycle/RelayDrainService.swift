import Logging
import ServiceLifecycle
import TunnelProtocol
import UnixSignals

/// Drains the relay's agent sessions on the operator's word, without cutting a stream.
///
/// - SIGHUP: GOAWAY on every agent session; agents open a new session in its place at once (so
///   new streams go there) and the old sessions close when their streams have finished. The relay
///   keeps running: this is how to rotate sessions, or to move agents to a restarted relay behind
///   the same address once the old process is told to stop.
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
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in hangups {
                    let n = sessions.goAwayAll(reason: "relay draining sessions (SIGHUP)")
                    logger.info("SIGHUP: going away on every agent session; agents reconnect, open streams finish", metadata: ["sessions": "\(n)"])
                }
            }
            // Returns when graceful shutdown starts (or throws when cancelled: no drain then).
            let shuttingDown = (try? await gracefulShutdown()) != nil
            tasks.cancelAll()
            guard shuttingDown else { return }
            let open = sessions.count
            logger.info("draining agent sessions before exit", metadata: ["sessions": "\(open)", "timeout": "\(drainTimeout)"])
            let cut = await sessions.drain(reason: "relay shutting down", timeout: drainTimeout)
            if cut > 0 {
                logger.warning("drain timed out: closed the remaining agent sessions", metadata: ["sessions": "\(cut)"])
            } else {
                logger.info("agent sessions drained")
            }
        }
    }
}
