import TunnelAgent

/// The `tunnel-agent` binary. All of the agent lives in the TunnelAgent library (so tests can
/// drive its parts, and it links no relay code); this only starts its command.
@main
enum TunnelAgentMain {
    static func main() async {
        await TunnelAgentCommand.main()
    }
}
