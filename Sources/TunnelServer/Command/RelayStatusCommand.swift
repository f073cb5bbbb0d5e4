import ArgumentParser
import EngineCLI

/// `tunnel-server status`: the running relay's tunnels and agent sessions, from its admin API.
struct RelayStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print the running relay's tunnels, agent sessions and health (from its admin API, -api).")

    @OptionGroup var options: StatusOptions

    func run() async throws {
        try await options.run(defaultAPI: DefaultAPI.relay, program: "tunnel-server")
    }
}
