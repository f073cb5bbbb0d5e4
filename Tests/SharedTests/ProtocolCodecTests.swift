import NIOCore
import XCTest

@testable import Shared

final class ProtocolCodecTests: XCTestCase {
    func testSOCKSAddressRoundTrips() throws {
        for hp in [HostPort(host: "10.1.2.3", port: 80), HostPort(host: "example.com", port: 443), HostPort(host: "2001:db8:0:0:0:0:0:1", port: 53)] {
            var b = ByteBuffer()
            SOCKSAddress.write(hp, to: &b)
            XCTAssertEqual(try SOCKSAddress.read(from: &b), hp)
            XCTAssertEqual(b.readableBytes, 0)
        }
    }

    func testSOCKSAddressIncompleteAndUnknown() throws {
        var partial = ByteBuffer(bytes: [0x03, 10, 0x61])
        XCTAssertNil(try SOCKSAddress.read(from: &partial))
        var bad = ByteBuffer(bytes: [0x09, 1, 2])
        XCTAssertThrowsError(try SOCKSAddress.read(from: &bad))
    }

    func testHTTPResponseHead() throws {
        var b = ByteBuffer(string: "HTTP/1.1 200 Connection established\r\nX: y\r\n\r\nrest")
        let r = try XCTUnwrap(try HTTPHead.readResponse(&b))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers.first?.0, "X")
        XCTAssertEqual(b.readString(length: b.readableBytes), "rest")
        var incomplete = ByteBuffer(string: "HTTP/1.1 200 OK\r\n")
        XCTAssertNil(try HTTPHead.readResponse(&incomplete))
        var garbage = ByteBuffer(string: "SSH-2.0\r\n\r\n")
        XCTAssertThrowsError(try HTTPHead.readResponse(&garbage))
    }

    func testAbsoluteFormParsing() {
        XCTAssertEqual(HTTPProxyServerHandler.parseAbsolute("http://example.com/a?b")?.0, HostPort(host: "example.com", port: 80))
        XCTAssertEqual(HTTPProxyServerHandler.parseAbsolute("http://example.com/a?b")?.1, "/a?b")
        XCTAssertEqual(HTTPProxyServerHandler.parseAbsolute("http://127.0.0.1:8000")?.0, HostPort(host: "127.0.0.1", port: 8000))
        XCTAssertEqual(HTTPProxyServerHandler.parseAbsolute("http://127.0.0.1:8000")?.1, "/")
        XCTAssertEqual(HTTPProxyServerHandler.parseAbsolute("http://[::1]:81/x")?.0, HostPort(host: "::1", port: 81))
        XCTAssertNil(HTTPProxyServerHandler.parseAbsolute("/just/a/path"))
    }

    func testBase64AndAuthenticator() {
        XCTAssertEqual(Base64.encode(Array("user:pass".utf8)), "dXNlcjpwYXNz")
        XCTAssertEqual(Base64.decode("dXNlcjpwYXNz").map { String(decoding: $0, as: UTF8.self) }, "user:pass")
        XCTAssertNil(Base64.decode("!!!"))
        let auth = Authenticator([Credentials(username: "a", password: "b")])
        XCTAssertTrue(auth.verify(username: "a", password: "b"))
        XCTAssertFalse(auth.verify(username: "a", password: "bb"))
        XCTAssertFalse(auth.verify(username: "x", password: "b"))
        XCTAssertTrue(Authenticator([]).verify(username: "", password: ""))
    }
}
