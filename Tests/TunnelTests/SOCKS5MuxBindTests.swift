import NIOCore
import Shared
import XCTest

@testable import Tunnel

final class SOCKS5MuxBindTests: XCTestCase {
    func testRequestBytesAndRoundTrip() throws {
        var tcp = SOCKS5MuxBind.request(port: 2222, udp: false).encoded
        XCTAssertEqual(Array(tcp.readableBytesView), [0x05, 0xF1, 0x00, 0x01, 0, 0, 0, 0, 0x08, 0xAE])
        let parsed = try XCTUnwrap(try SOCKS5Request.parse(&tcp))
        XCTAssertEqual(parsed.command, SOCKS5MuxBind.tcpCommand)
        XCTAssertEqual(parsed.address.port, 2222)
        XCTAssertEqual(SOCKS5MuxBind.isUDP(command: parsed.command), false)
        XCTAssertEqual(tcp.readableBytes, 0)

        var udp = SOCKS5MuxBind.request(port: 10053, udp: true).encoded
        XCTAssertEqual(udp.getInteger(at: 1, as: UInt8.self), 0xF2)
        XCTAssertEqual(SOCKS5MuxBind.isUDP(command: try XCTUnwrap(try SOCKS5Request.parse(&udp)).command), true)
        XCTAssertNil(SOCKS5MuxBind.isUDP(command: 0x01))
    }

    func testIncompleteAndBadRequests() throws {
        var partial = ByteBuffer(bytes: [0x05, 0xF1, 0x00, 0x01, 0, 0])
        XCTAssertNil(try SOCKS5Request.parse(&partial))
        var badVersion = ByteBuffer(bytes: [0x04, 0xF1, 0x00, 0x01, 0, 0, 0, 0, 0, 1])
        XCTAssertThrowsError(try SOCKS5Request.parse(&badVersion))
        var badType = ByteBuffer(bytes: [0x05, 0xF1, 0x00, 0x09, 0, 0, 0, 0, 0, 1])
        XCTAssertThrowsError(try SOCKS5Request.parse(&badType)) { XCTAssertTrue($0 is SOCKSAddressTypeError) }
    }

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

    /// The YAML agent form with a socks5 node becomes a tunnel client over a SOCKS5BindDialer.
    func testGOSTFormWithSOCKS5Node() throws {
        var config = try URLSpec.config(listen: ["rudp://:10053/127.0.0.1:53"], forward: ["socks5://u:p@relay.example:1080"])
        config.services![0].listener.chain = config.services![0].handler.chain
        config.services![0].handler.chain = nil
        let clients = try GOSTAgentForm.extract(from: &config)
        XCTAssertEqual(clients.count, 1)
        XCTAssertEqual(clients[0].tunnels[0].id, "socks5-bind:udp/10053")
        XCTAssertEqual(clients[0].tunnels[0].remoteUDPPorts, [10053])
        XCTAssertEqual(clients[0].token, "")
        let dialer = try XCTUnwrap(clients[0].dialer as? SOCKS5BindDialer)
        XCTAssertEqual(dialer.credentials, Credentials(username: "u", password: "p"))
        XCTAssertTrue(dialer.udp)
        XCTAssertEqual(config.services?.count ?? 0, 0)

        var zero = try URLSpec.config(listen: ["rtcp://:0/127.0.0.1:22"], forward: ["socks5://relay.example:1080"])
        zero.services![0].listener.chain = zero.services![0].handler.chain
        XCTAssertThrowsError(try GOSTAgentForm.extract(from: &zero))
    }
}
