import ArgumentParser
import EngineCLI

/// `tunnel-agent status`: the running agent's tunnels and relay sessions, from its local API
/// (`--inspect`, or -api).
struct AgentStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print the running agent's tunnels, relay sessions and health (from its local API, --inspect or -api).",
        discussion: StatusOptions.apiHelp(defaultAPI: DefaultAPI.agent))

    @OptionGroup var options: StatusOptions

    /// The main command's flags, as it parsed them: `status --api X` lands in its `-api`/`--api`
    /// (see `StatusOptions.run`).
    @OptionGroup(visibility: .private) var engine: EngineOptions

    func run() async throws {
        try await options.run(defaultAPI: DefaultAPI.agent, program: "tunnel-agent", api: engine.api)
    }
}
