import NIOCore
import Shared
import XCTest

@testable import TunnelProtocol

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
}
