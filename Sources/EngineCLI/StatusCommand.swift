import ArgumentParser
import Foundation
import Operations

/// `status`: asks a running process's admin API how it is, and prints tables. Both binaries
/// offer it; each names its usual API address (`defaultAPI`).
public struct StatusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Credentials of the API (its api.auth), as user:password. Default: $TUNNEL_API_AUTH.", valueName: "user:password"))
    public var auth: String?

    public init() {}

    /// What `status --help` says of `--api`: the option itself is the main command's (below).
    public static func apiHelp(defaultAPI: String) -> String {
        "--api <addr>: the admin API of the running process: host:port (its -api or --inspect address) or a URL with the path prefix, e.g. http://127.0.0.1:8090/api. Default: $TUNNEL_API, else \(defaultAPI)."
    }

    /// Prints the report, or the reason there is none (exit 1). `api` is the main command's
    /// `-api`/`--api` value: ArgumentParser gives a parent's options that follow the subcommand's
    /// name (`status --api X`) to the parent, and a subcommand may not declare the same name, so
    /// the status commands read it from the parent's parsed flags.
    public func run(defaultAPI: String, program: String, api: String?) async throws {
        let env = ProcessInfo.processInfo.environment
        let report = StatusReport(api: api ?? env["TUNNEL_API"] ?? defaultAPI, credentials: auth ?? env["TUNNEL_API_AUTH"])
        do {
            FileHandle.standardOutput.write(Data(try await report.render().utf8))
        } catch {
            FileHandle.standardError.write(Data("\(program) status: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// The admin API addresses the docs and deploy files use, so `status` finds them unasked.
public enum DefaultAPI {
    public static let relay = "127.0.0.1:8090"
    public static let agent = "127.0.0.1:4040"
}
