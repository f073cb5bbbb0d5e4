import NIOCore
import XCTest

@testable import TunnelServer

final class IngressTests: XCTestCase {
    func testGOSTMatchingOrder() {
        let ingress = Ingress(rules: [
            ("app.example.com", "exact"),
            ("*.example.org", "wild-org"),
            (".example.com", "wild-com"),
        ])
        XCTAssertEqual(ingress.lookup("app.example.com"), "exact")
        XCTAssertEqual(ingress.lookup("APP.Example.com."), "exact")
        XCTAssertEqual(ingress.lookup("app.example.com:8080"), "exact")
        XCTAssertEqual(ingress.lookup("other.example.com"), "wild-com")
        XCTAssertEqual(ingress.lookup("a.b.example.com"), "wild-com")
        XCTAssertEqual(ingress.lookup("example.com"), "wild-com", ".example.com covers the apex")
        XCTAssertEqual(ingress.lookup("x.example.org"), "wild-org")
        XCTAssertEqual(ingress.lookup("example.org"), "wild-org", "*.x and .x are the same wildcard")
        XCTAssertNil(ingress.lookup("example.net"))
        XCTAssertNil(ingress.lookup("badexample.com"))
    }

    func testRemoveTunnel() {
        var ingress = Ingress(rules: [("a.test", "1"), (".b.test", "1"), ("c.test", "2")])
        ingress.remove(tunnel: "1")
        XCTAssertNil(ingress.lookup("a.test"))
        XCTAssertNil(ingress.lookup("x.b.test"))
        XCTAssertEqual(ingress.lookup("c.test"), "2")
    }
}

final class ClientHelloTests: XCTestCase {
    /// A ClientHello as a real client sends it, built field by field.
    func clientHello(serverName: String?) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeBytes([0x03, 0x03])
        body.writeBytes([UInt8](repeating: 7, count: 32))
        body.writeInteger(UInt8(0))
        body.writeInteger(UInt16(2))
        body.writeBytes([0x13, 0x01])
        body.writeBytes([0x01, 0x00])
        var exts = ByteBuffer()
        exts.writeInteger(UInt16(0x000b))  // ec_point_formats, to skip over
        exts.writeInteger(UInt16(2))
        exts.writeBytes([0x01, 0x00])
        if let serverName {
            let name = Array(serverName.utf8)
            exts.writeInteger(UInt16(0))
            exts.writeInteger(UInt16(name.count + 5))
            exts.writeInteger(UInt16(name.count + 3))
            exts.writeInteger(UInt8(0))
            exts.writeInteger(UInt16(name.count))
            exts.writeBytes(name)
        }
        body.writeInteger(UInt16(exts.readableBytes))
        body.writeBuffer(&exts)
        var handshake = ByteBuffer()
        handshake.writeInteger(UInt8(1))
        handshake.writeInteger(UInt8(0))
        handshake.writeInteger(UInt16(body.readableBytes))
        handshake.writeBuffer(&body)
        var record = ByteBuffer()
        record.writeBytes([0x16, 0x03, 0x01])
        record.writeInteger(UInt16(handshake.readableBytes))
        record.writeBuffer(&handshake)
        return record
    }

    func testServerNameIsRead() {
        XCTAssertEqual(ClientHello.peek(clientHello(serverName: "app.example.com")), .serverName("app.example.com"))
    }

    func testMissingNameAndPartialAndGarbage() {
        XCTAssertEqual(ClientHello.peek(clientHello(serverName: nil)), .noServerName)
        let full = clientHello(serverName: "a.test")
        XCTAssertEqual(ClientHello.peek(full.getSlice(at: 0, length: 20)!), .needMore)
        XCTAssertEqual(ClientHello.peek(ByteBuffer(string: "GET / HTTP/1.1\r\n")), .notTLS)
        var random = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x10])
        random.writeBytes((0..<16).map { _ in UInt8.random(in: 0...255) })
        let peek = ClientHello.peek(random)
        XCTAssertTrue(peek == .noServerName || peek == .notTLS, "\(peek)")
    }
}
