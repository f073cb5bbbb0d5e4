import NIOCore
import XCTest

@testable import TunnelProtocol

final class TunnelMessagesTests: XCTestCase {
    func testMessagesRoundTrip() throws {
        let hello = TunnelMessages.Hello(token: "t", tunnels: [.init(id: "x", hostnames: ["a.test"])])
        XCTAssertEqual(try TunnelMessages.decode(TunnelMessages.Hello.self, from: TunnelMessages.encode(hello)), hello)
        let header = TunnelMessages.StreamHeader(tunnel: "x", client: "1.2.3.4:5", host: "a.test")
        XCTAssertEqual(try TunnelMessages.decode(TunnelMessages.StreamHeader.self, from: TunnelMessages.encode(header)), header)
        XCTAssertThrowsError(try TunnelMessages.decode(TunnelMessages.Hello.self, from: ByteBuffer(string: "{")))
    }
}
