import ArgumentParser
import EngineCLI

/// `tunnel-agent status`: the running agent's tunnels and relay sessions, from its local API
/// (`--inspect`, or -api).
struct AgentStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print the running agent's tunnels, relay sessions and health (from its local API, --inspect or -api).")

    @OptionGroup var options: StatusOptions

    func run() async throws {
        try await options.run(defaultAPI: DefaultAPI.agent, program: "tunnel-agent")
    }
}
