import NIOCore
import NIOPosix
import XCTest

@testable import TunnelServer

/// Remote ports as the snapshot shows them: what is open, for which tunnel, until released.
final class RemotePortsTests: XCTestCase {
    func testSnapshotListsOpenPortsUntilReleased() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let ports = RemotePorts(directory: LocalTunnelDirectory(), allowed: 0...65535, bindHost: "127.0.0.1", group: group, loggerLabel: "test")
        XCTAssertEqual(ports.snapshot(), [])
        // Port 0: the system picks a free one; the claim is still known by the number asked for.
        try ports.claimUDP(0, tunnel: "u1", on: group.next()).wait()
        try ports.claim(0, tunnel: "t1", on: group.next()).wait()
        XCTAssertEqual(ports.snapshot(), [.init(port: 0, udp: false, tunnel: "t1"), .init(port: 0, udp: true, tunnel: "u1")])
        XCTAssertThrowsError(try ports.claim(0, tunnel: "other", on: group.next()).wait(), "a port belongs to one tunnel")
        ports.release(tunnel: "t1")
        XCTAssertEqual(ports.snapshot(), [.init(port: 0, udp: true, tunnel: "u1")])
        ports.release(key: "udp/0", tunnel: "u1")
        XCTAssertEqual(ports.snapshot(), [])
        let snap = RelaySnapshot.capture(directory: LocalTunnelDirectory(), ports: ports)
        XCTAssertEqual(snap.remotePorts, [])
        XCTAssertEqual(snap.counters.udpFlows, 0)
    }
}
