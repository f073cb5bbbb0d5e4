import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP reloads the configuration (`EngineReloader`): `systemctl reload` and `kill -HUP` do
/// what operators expect of a server. (Draining agent sessions is its own call: the admin API's
/// `POST /api/drain`.)
struct ReloadSignalService: Service {
    let reloader: EngineReloader
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                logger.info("SIGHUP: reloading the configuration")
                _ = await reloader.reload()
            }
        }
    }
}
