import NIOCore
import Shared
import TunnelProtocol
import XCTest

@testable import TunnelServer

/// Incoming PROXY headers, v1 and v2: complete, partial, malformed, over the bounds; round trips
/// with the agent's writer (`ProxyProtocol.header`); and who is trusted to send one.
final class ProxyProtocolReaderTests: XCTestCase {
    func addr(_ ip: String, _ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: port) }

    func testV1TCP4() throws {
        var buffer = ByteBuffer(string: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n")
        XCTAssertEqual(
            ProxyProtocolReader.parse(buffer),
            .header(source: try addr("192.0.2.1", 56324), destination: try addr("198.51.100.2", 443), length: 45))
        // Nothing consumed: the caller skips `length`.
        buffer.moveReaderIndex(forwardBy: 45)
        XCTAssertEqual(buffer.readString(length: 3), "GET")
    }

    func testV1TCP6AndUnknown() throws {
        let six = ByteBuffer(string: "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n")
        XCTAssertEqual(
            ProxyProtocolReader.parse(six),
            .header(source: try addr("2001:db8::1", 1), destination: try addr("2001:db8::2", 65535), length: six.readableBytes))
        let unknown = ByteBuffer(string: "PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\nrest")
        XCTAssertEqual(ProxyProtocolReader.parse(unknown), .header(source: nil, destination: nil, length: unknown.readableBytes - 4))
        XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(string: "PROXY UNKNOWN\r\n")), .header(source: nil, destination: nil, length: 15))
    }

    func testV1NeedsMoreThenCompletes() throws {
        let full = Array("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".utf8)
        for cut in 0..<full.count {
            XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(bytes: full[0..<cut])), .needMore, "cut at \(cut)")
        }
        XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(bytes: full)), .header(source: try addr("192.0.2.1", 56324), destination: try addr("198.51.100.2", 443), length: full.count))
    }

    func testV1Malformed() {
        let bad = [
            "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",  // a field missing
            "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 extra\r\n",
            "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",  // family mismatch
            "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 +1 443\r\n",
            "PROXY TCP4 192.0.2.1  198.51.100.2 1 443\r\n",  // double space
            "PROXY UDP4 192.0.2.1 198.51.100.2 1 443\r\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 1 443\n",  // bare LF
            "PROXY TCP4 192.0.2.1 198.51.100.2 1 443\rX",
            "PROXY\r\n",
            "GET / HTTP/1.1\r\n",
            "PROXx TCP4",
            "\u{16}\u{03}\u{01}",  // a TLS ClientHello
        ]
        for text in bad {
            guard case .invalid = ProxyProtocolReader.parse(ByteBuffer(string: text)) else {
                return XCTFail("accepted \(text.debugDescription)")
            }
        }
    }

    func testV1Bounded() {
        // 107 bytes and no CRLF yet: refused, not waited for.
        let long = "PROXY UNKNOWN " + String(repeating: "x", count: 93)
        XCTAssertEqual(long.utf8.count, 107)
        guard case .invalid = ProxyProtocolReader.parse(ByteBuffer(string: long)) else { return XCTFail("waited past 107 bytes") }
        XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(string: String(long.dropLast()))), .needMore)
        // Exactly 107 with the CRLF is fine.
        let max = "PROXY UNKNOWN " + String(repeating: "x", count: 91) + "\r\n"
        XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(string: max)), .header(source: nil, destination: nil, length: 107))
        // CR as the 107th byte and LF as the 108th: over.
        let over = "PROXY UNKNOWN " + String(repeating: "x", count: 92) + "\r\n"
        guard case .invalid = ProxyProtocolReader.parse(ByteBuffer(string: over)) else { return XCTFail("accepted 108 bytes") }
    }

    func testV2RoundTripWithTheWriter() throws {
        for (source, destination) in [("192.0.2.1:56324", "198.51.100.2:443"), ("[2001:db8::1]:1", "[2001:db8::ff]:65535")] {
            for version in [ProxyProtocol.Version.v1, .v2] {
                let header = ProxyProtocol.header(version, source: source, destination: destination)
                var buffer = header
                buffer.writeString("payload")
                guard case .header(let s, let d, let length) = ProxyProtocolReader.parse(buffer) else {
                    return XCTFail("\(version) \(source) not read back")
                }
                XCTAssertEqual(length, header.readableBytes)
                XCTAssertEqual(s.map { "\($0.hostPortText)" }, source)
                XCTAssertEqual(d.map { "\($0.hostPortText)" }, destination)
            }
        }
        // The writer's unknown/LOCAL forms read as no addresses.
        for version in [ProxyProtocol.Version.v1, .v2] {
            let header = ProxyProtocol.header(version, source: nil, destination: nil)
            XCTAssertEqual(ProxyProtocolReader.parse(header), .header(source: nil, destination: nil, length: header.readableBytes))
        }
    }

    func v2(command: UInt8 = 0x21, family: UInt8 = 0x11, body: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer(bytes: ProxyProtocol.v2Signature)
        b.writeInteger(command)
        b.writeInteger(family)
        b.writeInteger(UInt16(body.count))
        b.writeBytes(body)
        return b
    }

    func testV2SkipsTLVs() throws {
        // IPv4 addresses, ports, then a TLV (PP2_TYPE_AUTHORITY "example.com").
        var body: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 2, 0x1F, 0x90, 0x01, 0xBB]
        body += [0x02, 0x00, 0x0B] + Array("example.com".utf8)
        let buffer = v2(body: body)
        XCTAssertEqual(
            ProxyProtocolReader.parse(buffer),
            .header(source: try addr("192.0.2.1", 8080), destination: try addr("198.51.100.2", 443), length: 16 + body.count))
    }

    func testV2NeedsMore() throws {
        let full = Array(v2(body: [192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2]).readableBytesView)
        for cut in 0..<full.count {
            XCTAssertEqual(ProxyProtocolReader.parse(ByteBuffer(bytes: full[0..<cut])), .needMore, "cut at \(cut)")
        }
    }

    func testV2LocalUnspecAndUnix() {
        XCTAssertEqual(ProxyProtocolReader.parse(v2(command: 0x20, family: 0x00, body: [])), .header(source: nil, destination: nil, length: 16))
        // LOCAL with an address block: still the balancer itself, block skipped.
        XCTAssertEqual(ProxyProtocolReader.parse(v2(command: 0x20, family: 0x11, body: Array(repeating: 1, count: 12))), .header(source: nil, destination: nil, length: 28))
        XCTAssertEqual(ProxyProtocolReader.parse(v2(family: 0x00, body: [])), .header(source: nil, destination: nil, length: 16))
        XCTAssertEqual(ProxyProtocolReader.parse(v2(family: 0x31, body: Array(repeating: 0, count: 216))), .header(source: nil, destination: nil, length: 232))
    }

    func testV2Malformed() {
        let cases: [(String, ByteBuffer)] = [
            ("version 1", v2(command: 0x11, body: Array(repeating: 0, count: 12))),
            ("command 2", v2(command: 0x22, body: Array(repeating: 0, count: 12))),
            ("IPv4 too short", v2(family: 0x11, body: Array(repeating: 0, count: 11))),
            ("IPv6 too short", v2(family: 0x21, body: Array(repeating: 0, count: 35))),
            ("Unix too short", v2(family: 0x31, body: Array(repeating: 0, count: 100))),
            ("family 4", v2(family: 0x41, body: Array(repeating: 0, count: 12))),
            ("transport 3", v2(family: 0x13, body: Array(repeating: 0, count: 12))),
            ("bad signature", ByteBuffer(bytes: [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B])),
        ]
        for (name, buffer) in cases {
            guard case .invalid = ProxyProtocolReader.parse(buffer) else { return XCTFail("accepted \(name)") }
        }
    }

    func testV2Bounded() {
        // A length field over 536 is refused on the fixed part alone, before waiting for the body.
        var header = ByteBuffer(bytes: ProxyProtocol.v2Signature)
        header.writeBytes([0x21, 0x11])
        header.writeInteger(UInt16(537))
        guard case .invalid = ProxyProtocolReader.parse(header) else { return XCTFail("waited for 537 bytes") }
        let largest = v2(body: [192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2] + Array(repeating: 0, count: 524))
        XCTAssertEqual(largest.readableBytes, ProxyProtocolReader.maxV2Length)
        guard case .header = ProxyProtocolReader.parse(largest) else { return XCTFail("refused the largest") }
    }

    func testTrustedProxies() throws {
        let trusted = try TrustedProxies(parsing: ["10.0.0.0/8", "2001:db8::/32"], path: "proxyProtocol.trusted")
        XCTAssertTrue(trusted.trusts(try addr("10.1.2.3", 1)))
        XCTAssertTrue(trusted.trusts(try addr("::ffff:10.1.2.3", 1)))
        XCTAssertTrue(trusted.trusts(try addr("2001:db8::9", 1)))
        XCTAssertFalse(trusted.trusts(try addr("192.0.2.1", 1)))
        XCTAssertFalse(trusted.trusts(nil))
        XCTAssertFalse(trusted.trusts(try SocketAddress(unixDomainSocketPath: "/tmp/lb")))
        XCTAssertFalse(TrustedProxies().trusts(try addr("10.1.2.3", 1)))
        XCTAssertThrowsError(try TrustedProxies(parsing: ["10.0.0.0/8", "lb.example"], path: "proxyProtocol.trusted")) {
            XCTAssertEqual(($0 as? ConfigError)?.path, "proxyProtocol.trusted[1]")
        }
    }
}

extension SocketAddress {
    /// `ip:port`, with brackets for IPv6, as the writer takes it.
    fileprivate var hostPortText: String {
        guard let ip = ipAddress, let port else { return "?" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
