import EngineCLI
import Shared
import XCTest

/// GOST's flags as both binaries read them: `-L` services and the one `-F` chain, shaped by what
/// the binary's registry offers.
final class EngineOptionsTests: XCTestCase {
    func testFlagsGiveNamedServicesOnOneChain() throws {
        let options = try EngineOptions.parse(["-L", "http://:8080", "-L", "socks5://:1080", "-F", "socks5://proxy.example:1080"])
        let config = try options.config()
        XCTAssertEqual(config.services?.map(\.name), ["cli-0", "cli-1"])
        XCTAssertEqual(config.services?.map(\.handler.type), ["http", "socks5"])
        XCTAssertEqual(config.services?.map(\.handler.chain), ["cli-chain", "cli-chain"])
        XCTAssertEqual(config.chains?.map(\.name), ["cli-chain"])
        XCTAssertEqual(config.chains?[0].hops[0].nodes[0].addr, "proxy.example:1080")
    }

    /// A listener whose traits say it accepts through a chain takes the `-F` chain itself, and a
    /// scheme naming such a listener picks it (the agent's `rtcp`); without those traits the same
    /// flags mean a handler of that name on a TCP listener.
    func testListenerTraitsDecideWhoseTheChainIs() throws {
        let options = try EngineOptions.parse(["-L", "rtcp://:2222/127.0.0.1:22", "-F", "tunnel+tls://relay.example:8443"])
        var registry = Registry.standard
        registry.listenerTraits["rtcp"] = ListenerTraits(usesChain: true, namedByScheme: true)
        let remote = try options.config(registry: registry)
        XCTAssertEqual(remote.services?[0].listener.type, "rtcp")
        XCTAssertEqual(remote.services?[0].listener.chain, "cli-chain")
        XCTAssertNil(remote.services?[0].handler.chain)
        let plain = try options.config()
        XCTAssertEqual(plain.services?[0].listener.type, "tcp")
        XCTAssertEqual(plain.services?[0].handler.chain, "cli-chain")
        XCTAssertEqual(try EngineOptions.parse(["-L", "udp://:53/127.0.0.1:5353"]).config().services?[0].listener.type, "udp")
    }

    /// A file's top-level sections are those the binary's modules contribute.
    func testTheFileIsReadWithTheRegistrysSections() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("engine-options-\(UInt32.random(in: 0...UInt32.max)).yaml")
        try "notes: {text: hello}\nservices:\n- {name: a, addr: ':0', handler: {type: http}}\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let options = try EngineOptions.parse(["-C", file.path, "-L", "socks5://:1080"])
        XCTAssertThrowsError(try options.config()) { XCTAssertEqual("\($0)", "notes: unknown key \"notes\" (known here: api, chains, log, metrics, services)") }
        var registry = Registry.standard
        registry.configSections = [Notes.self]
        let config = try options.config(registry: registry)
        XCTAssertEqual(config.sections[Notes.self], Notes(text: "hello"))
        XCTAssertEqual(config.services?.map(\.name), ["a", "cli-0"], "the file's services, then the flags'")
    }
}

/// A section of another module, for the test.
private struct Notes: ConfigSection {
    static let key = "notes"
    var text: String
}
