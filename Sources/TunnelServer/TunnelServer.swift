import ArgumentParser
import EngineCLI
import Foundation
import Shared

/// `tunnel-server`: the public relay. It runs GOST-style services and chains (-L/-F/-C); with no
/// services given it starts its embedded default.
@main
struct TunnelServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel-server",
        abstract: "The public relay, and a GOST-style proxy/forwarder.")

    @OptionGroup var options: EngineOptions

    func run() async throws {
        let code = await EngineMain.run(options, program: "tunnel-server", defaults: Defaults.make)
        if code != 0 { throw ExitCode(code) }
    }
}

/// What runs with no configuration at all.
enum Defaults {
    static func make() -> (Config, String) {
        let service = ServiceConfig(name: "default-proxy", addr: "127.0.0.1:8080", handler: HandlerConfig(type: "auto"), listener: ListenerConfig(type: "tcp"))
        let banner = """
            tunnel-server: no services configured; running the embedded default:
              an HTTP/SOCKS4/SOCKS5 proxy (auto) on 127.0.0.1:8080
              try:  curl -x http://127.0.0.1:8080 http://example.com/   or   curl --socks5-hostname 127.0.0.1:8080 ...
            (see README.md for -L/-F/-C)

            """
        return (Config(services: [service]), banner)
    }
}
