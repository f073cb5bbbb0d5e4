import Foundation
import XCTest

@testable import TunnelAgent

/// Where the agent's token comes from: `--token`, else `--token-file` (first line), else
/// `$TUNNEL_TOKEN` — the last two keep it out of the process list.
final class AgentTokenTests: XCTestCase {
    func testFlagThenFileThenEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        try "from-file\nignored\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        setenv("TUNNEL_TOKEN", "from-env", 1)
        defer { unsetenv("TUNNEL_TOKEN") }
        XCTAssertEqual(try TunnelAgentCommand.parse(["--token", "from-flag", "--token-file", file.path]).resolvedToken(), "from-flag")
        XCTAssertEqual(try TunnelAgentCommand.parse(["--token-file", file.path]).resolvedToken(), "from-file")
        XCTAssertEqual(try TunnelAgentCommand.parse([]).resolvedToken(), "from-env")
        XCTAssertThrowsError(try TunnelAgentCommand.parse(["--token-file", "/nonexistent/token"]).resolvedToken())
    }
}
