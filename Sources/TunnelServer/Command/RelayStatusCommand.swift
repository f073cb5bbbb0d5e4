import ArgumentParser
import EngineCLI

/// `tunnel-server status`: the running relay's tunnels and agent sessions, from its admin API.
struct RelayStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print the running relay's tunnels, agent sessions and health (from its admin API, -api).",
        discussion: StatusOptions.apiHelp(defaultAPI: DefaultAPI.relay))

    @OptionGroup var options: StatusOptions

    /// The main command's flags, as it parsed them: `status --api X` lands in its `-api`/`--api`
    /// (see `StatusOptions.run`).
    @OptionGroup(visibility: .private) var engine: EngineOptions

    func run() async throws {
        try await options.run(defaultAPI: DefaultAPI.relay, program: "tunnel-server", api: engine.api)
    }
}
