import Logging
import Mux
import NIOCore
import NIOEmbedded
import XCTest

@testable import TunnelServer

final class TunnelRegistryTests: XCTestCase {
    let loop = EmbeddedEventLoop()

    func session(on loop: EmbeddedEventLoop? = nil) throws -> MuxSession {
        let channel = EmbeddedChannel(loop: loop ?? self.loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        return try channel.pipeline.syncOperations.addMuxSession(
            role: .responder, configuration: .tunnel, logger: Logger(label: "test"),
            inboundStreamInitializer: { ch, _ in ch.eventLoop.makeSucceededVoidFuture() })
    }

    func picks(_ registry: TunnelRegistry, _ count: Int) -> [ObjectIdentifier: Int] {
        var seen: [ObjectIdentifier: Int] = [:]
        for _ in 0..<count {
            guard let s = registry.session(for: "t") else { continue }
            seen[ObjectIdentifier(s), default: 0] += 1
        }
        return seen
    }

    func testEqualWeightsShareEvenly() throws {
        let registry = TunnelRegistry()
        let a = try session(), b = try session()
        registry.register(a, tunnel: "t", hostnames: [])
        registry.register(b, tunnel: "t", hostnames: [])
        let seen = picks(registry, 100)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 50)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 50)
    }

    func testWeightsSplitNewStreamsInProportion() throws {
        let registry = TunnelRegistry()
        let a = try session(), b = try session()
        registry.register(a, tunnel: "t", hostnames: [], weight: 3)
        registry.register(b, tunnel: "t", hostnames: [], weight: 1)
        let seen = picks(registry, 400)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 300)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 100)
    }

    func testExclusiveWeightTakesEverythingWhileLive() throws {
        let registry = TunnelRegistry()
        let a = try session(), b = try session(), x = try session()
        registry.register(a, tunnel: "t", hostnames: [])
        registry.register(b, tunnel: "t", hostnames: [], weight: 10)
        registry.register(x, tunnel: "t", hostnames: [], weight: 255)
        XCTAssertEqual(picks(registry, 20)[ObjectIdentifier(x)], 20)
        registry.unregister(x)
        let seen = picks(registry, 22)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 20)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 2)
    }

    func testGoingAwaySessionsAreSkipped() throws {
        let registry = TunnelRegistry()
        let a = try session(), b = try session()
        registry.register(a, tunnel: "t", hostnames: [])
        registry.register(b, tunnel: "t", hostnames: [])
        a.goAway(reason: "test")
        loop.run()
        XCTAssertEqual(picks(registry, 10)[ObjectIdentifier(b)], 10)
        XCTAssertNil(TunnelRegistry().session(for: "t"))
    }

    /// With equal weights a session on the public connection's loop is preferred (no thread hop);
    /// without one there, any session serves.
    func testSessionOnTheCallersLoopIsPreferred() throws {
        let other = EmbeddedEventLoop()
        let registry = TunnelRegistry()
        let here = try session(), there = try session(on: other)
        registry.register(here, tunnel: "t", hostnames: [])
        registry.register(there, tunnel: "t", hostnames: [])
        for _ in 0..<10 {
            XCTAssertTrue(registry.session(for: "t", near: loop) === here)
            XCTAssertTrue(registry.session(for: "t", near: other) === there)
        }
        registry.unregister(there)
        XCTAssertTrue(registry.session(for: "t", near: other) === here)
    }
}
