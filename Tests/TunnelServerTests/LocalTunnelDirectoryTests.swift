import Foundation
import Logging
import Mux
import NIOCore
import NIOEmbedded
import XCTest

@testable import TunnelServer

final class LocalTunnelDirectoryTests: XCTestCase {
    let loop = EmbeddedEventLoop()

    func session(on loop: EmbeddedEventLoop? = nil) throws -> MuxSession {
        let channel = EmbeddedChannel(loop: loop ?? self.loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        return try channel.pipeline.syncOperations.addMuxSession(
            role: .responder, configuration: .tunnel, logger: Logger(label: "test"),
            inboundStreamInitializer: { ch, _ in ch.eventLoop.makeSucceededVoidFuture() })
    }

    func picks(_ directory: LocalTunnelDirectory, _ count: Int) -> [ObjectIdentifier: Int] {
        var seen: [ObjectIdentifier: Int] = [:]
        for _ in 0..<count {
            guard let s = directory.session(for: "t") else { continue }
            seen[ObjectIdentifier(s), default: 0] += 1
        }
        return seen
    }

    func testEqualWeightsShareEvenly() throws {
        let directory = LocalTunnelDirectory()
        let a = try session(), b = try session()
        directory.claim(a, tunnel: "t", hostnames: [])
        directory.claim(b, tunnel: "t", hostnames: [])
        let seen = picks(directory, 100)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 50)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 50)
    }

    func testWeightsSplitNewStreamsInProportion() throws {
        let directory = LocalTunnelDirectory()
        let a = try session(), b = try session()
        directory.claim(a, tunnel: "t", hostnames: [], weight: 3)
        directory.claim(b, tunnel: "t", hostnames: [], weight: 1)
        let seen = picks(directory, 400)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 300)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 100)
    }

    func testExclusiveWeightTakesEverythingWhileLive() throws {
        let directory = LocalTunnelDirectory()
        let a = try session(), b = try session(), x = try session()
        directory.claim(a, tunnel: "t", hostnames: [])
        directory.claim(b, tunnel: "t", hostnames: [], weight: 10)
        directory.claim(x, tunnel: "t", hostnames: [], weight: 255)
        XCTAssertEqual(picks(directory, 20)[ObjectIdentifier(x)], 20)
        directory.withdraw(x)
        let seen = picks(directory, 22)
        XCTAssertEqual(seen[ObjectIdentifier(b)], 20)
        XCTAssertEqual(seen[ObjectIdentifier(a)], 2)
    }

    func testGoingAwaySessionsAreSkipped() throws {
        let directory = LocalTunnelDirectory()
        let a = try session(), b = try session()
        directory.claim(a, tunnel: "t", hostnames: [])
        directory.claim(b, tunnel: "t", hostnames: [])
        a.goAway(reason: "test")
        loop.run()
        XCTAssertEqual(picks(directory, 10)[ObjectIdentifier(b)], 10)
        XCTAssertNil(LocalTunnelDirectory().session(for: "t"))
    }

    /// With equal weights a session on the public connection's loop is preferred (no thread hop);
    /// without one there, any session serves.
    func testSessionOnTheCallersLoopIsPreferred() throws {
        let other = EmbeddedEventLoop()
        let directory = LocalTunnelDirectory()
        let here = try session(), there = try session(on: other)
        directory.claim(here, tunnel: "t", hostnames: [])
        directory.claim(there, tunnel: "t", hostnames: [])
        for _ in 0..<10 {
            XCTAssertTrue(directory.session(for: "t", near: loop) === here)
            XCTAssertTrue(directory.session(for: "t", near: other) === there)
        }
        directory.withdraw(there)
        XCTAssertTrue(directory.session(for: "t", near: other) === here)
    }

    /// The snapshot lists tunnels with their sessions and every rule, telling the operator's
    /// rules from agents' claims; it is a copy, unchanged by what happens afterwards.
    func testSnapshotListsTunnelsSessionsAndRules() throws {
        let directory = LocalTunnelDirectory(rules: [("static.test", "t1"), (".wild.test", "t2")])
        let a = try session(), b = try session()
        directory.claim(a, tunnel: "t1", hostnames: ["agent.test"], weight: 3)
        directory.claim(b, tunnel: "t1", hostnames: [])
        directory.claim(b, tunnel: "t3", hostnames: ["*.claimed.test"], weight: 255)
        let snap = directory.snapshot()
        XCTAssertEqual(snap.tunnels.map(\.id), ["t1", "t3"])
        XCTAssertEqual(snap.tunnels[0].sessions.map(\.weight), [3, 1])
        XCTAssertEqual(snap.tunnels[0].sessions[0].peer, "127.0.0.1:1")
        XCTAssertEqual(snap.tunnels[0].sessions[0].openStreams, 0)
        XCTAssertFalse(snap.tunnels[0].sessions[0].goingAway)
        XCTAssertEqual(snap.tunnels[1].sessions.map(\.weight), [255])
        XCTAssertEqual(snap.rules, [
            .init(hostname: "*.claimed.test", tunnel: "t3", configured: false),
            .init(hostname: "*.wild.test", tunnel: "t2", configured: true),
            .init(hostname: "agent.test", tunnel: "t1", configured: false),
            .init(hostname: "static.test", tunnel: "t1", configured: true),
        ])
        directory.withdraw(b)
        XCTAssertEqual(snap.tunnels.count, 2, "a snapshot is a copy")
        XCTAssertEqual(directory.snapshot().tunnels.map(\.id), ["t1"])
        let json = try JSONEncoder().encode(RelaySnapshot.capture(directory: directory, ports: nil))
        let back = try JSONDecoder().decode(RelaySnapshot.self, from: json)
        XCTAssertEqual(back.directory, directory.snapshot())
        XCTAssertEqual(back.counters, .init(agentSessions: 0, udpFlows: 0, refusedDatagrams: 0))
        XCTAssertEqual(back.agents, [])
        directory.agents.add(a)
        let withAgent = RelaySnapshot.capture(directory: directory, ports: nil)
        XCTAssertEqual(withAgent.agents, [.init(peer: "127.0.0.1:1", openStreams: 0, rttMilliseconds: nil, goingAway: false)])
        XCTAssertEqual(withAgent.counters.agentSessions, 1)
    }
}
