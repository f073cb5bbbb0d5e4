import ArgumentParser
import EngineCLI
import Foundation

/// `tunnel-agent`: runs behind NAT. Today it runs GOST-style services and chains (-L/-F/-C);
/// the tunnel to the relay builds on the same engine.
@main
struct TunnelAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel-agent",
        abstract: "The private side of the tunnel, and a GOST-style proxy/forwarder.")

    @OptionGroup var options: EngineOptions

    func run() async throws {
        let code = await EngineMain.run(options, program: "tunnel-agent")
        if code != 0 { throw ExitCode(code) }
    }
}
