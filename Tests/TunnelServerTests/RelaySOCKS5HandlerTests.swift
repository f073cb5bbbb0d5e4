import NIOCore
import Shared
import TunnelProtocol
import XCTest

@testable import TunnelServer

final class RelaySOCKS5HandlerTests: XCTestCase {
    func testHelloMustClaimExactlyTheBoundPort() {
        let id = SOCKS5MuxBind.tunnelID(port: 2222, udp: false)
        XCTAssertEqual(id, "socks5-bind:tcp/2222")
        func hello(_ claims: [TunnelMessages.TunnelClaim]) -> TunnelMessages.Hello { .init(token: "", tunnels: claims) }
        XCTAssertNil(RelaySOCKS5Handler.refusal(for: hello([.init(id: id, ports: [2222])]), tunnel: id, port: 2222, udp: false))
        XCTAssertNotNil(RelaySOCKS5Handler.refusal(for: hello([.init(id: id, ports: [2222, 2223])]), tunnel: id, port: 2222, udp: false))
        XCTAssertNotNil(RelaySOCKS5Handler.refusal(for: hello([.init(id: id, udpPorts: [2222])]), tunnel: id, port: 2222, udp: false))
        XCTAssertNotNil(RelaySOCKS5Handler.refusal(for: hello([.init(id: "other", ports: [2222])]), tunnel: id, port: 2222, udp: false))
        XCTAssertNotNil(RelaySOCKS5Handler.refusal(for: hello([.init(id: id, hostnames: ["a.example.com"], ports: [2222])]), tunnel: id, port: 2222, udp: false))
        XCTAssertNotNil(RelaySOCKS5Handler.refusal(for: hello([]), tunnel: id, port: 2222, udp: false))
    }

    func testOwnersShareAPortPerUserOnly() {
        let owners = SOCKS5BindOwners()
        XCTAssertTrue(owners.acquire("k", user: "alice"))
        XCTAssertTrue(owners.acquire("k", user: "alice"))
        XCTAssertFalse(owners.acquire("k", user: "bob"))
        owners.release("k")
        XCTAssertFalse(owners.acquire("k", user: "bob"))
        owners.release("k")
        XCTAssertTrue(owners.acquire("k", user: "bob"))
    }
}
