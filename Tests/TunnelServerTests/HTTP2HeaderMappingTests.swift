import NIOCore
import NIOHPACK
import NIOHTTP1
import XCTest

@testable import TunnelServer

/// h2 header blocks ⇄ what the local service gets: forwarding headers, HSTS on responses, and
/// the HTTP/1.1 mapping for `http1` upstreams (`:authority` → `Host`, framing spelled out,
/// connection-specific fields dropped, trailers).
final class HTTP2HeaderMappingTests: XCTestCase {
    let request: HPACKHeaders = [
        ":method": "POST", ":scheme": "https", ":authority": "app.example.test", ":path": "/x?y=1",
        "content-type": "application/grpc", "te": "trailers", "x-forwarded-for": "10.0.0.1", "x-forwarded-proto": "http",
    ]

    func testForwardedRequestExtendsTheChainAndSetsTheProto() {
        let out = HTTP2HeaderMapping.forwardedRequest(request, clientIP: "192.0.2.7", proto: "https")
        XCTAssertEqual(out.first(name: "x-forwarded-for"), "10.0.0.1, 192.0.2.7")
        XCTAssertEqual(Array(out.values(forHeader: "x-forwarded-proto")), ["https"])
        XCTAssertEqual(out.first(name: ":authority"), "app.example.test")
        // gRPC's `te: trailers` stays for an h2c upstream.
        XCTAssertEqual(out.first(name: "te"), "trailers")
        let bare = HTTP2HeaderMapping.forwardedRequest([":method": "GET", ":path": "/"], clientIP: nil, proto: "https")
        XCTAssertFalse(bare.contains(name: "x-forwarded-for"))
    }

    func testAuthorityFallsBackToHost() {
        XCTAssertEqual(HTTP2HeaderMapping.authority(request), "app.example.test")
        XCTAssertEqual(HTTP2HeaderMapping.authority([":method": "GET", "host": "h.test"]), "h.test")
        XCTAssertNil(HTTP2HeaderMapping.authority([":method": "GET"]))
    }

    func testHTTP1RequestMapsAuthorityAndFraming() throws {
        let head = try HTTP2HeaderMapping.http1Request(request, endStream: false)
        XCTAssertEqual(head.version, .http1_1)
        XCTAssertEqual(head.method, .POST)
        XCTAssertEqual(head.uri, "/x?y=1")
        XCTAssertEqual(head.headers.first(name: "host"), "app.example.test")
        XCTAssertEqual(head.headers.first(name: "transfer-encoding"), "chunked")
        XCTAssertFalse(head.headers.contains(name: "te"))
        XCTAssertFalse(head.headers.contains { $0.name.hasPrefix(":") })
        // Ended in its HEADERS: no body, said explicitly for a method that carries one.
        XCTAssertEqual(try HTTP2HeaderMapping.http1Request(request, endStream: true).headers.first(name: "content-length"), "0")
        let get = try HTTP2HeaderMapping.http1Request([":method": "GET", ":path": "/", ":authority": "a.test"], endStream: true)
        XCTAssertFalse(get.headers.contains(name: "content-length"))
        XCTAssertFalse(get.headers.contains(name: "transfer-encoding"))
        // A given Content-Length frames the body as it is.
        var sized = request
        sized.add(name: "content-length", value: "5")
        let put = try HTTP2HeaderMapping.http1Request(sized, endStream: false)
        XCTAssertEqual(put.headers.first(name: "content-length"), "5")
        XCTAssertFalse(put.headers.contains(name: "transfer-encoding"))
        XCTAssertThrowsError(try HTTP2HeaderMapping.http1Request([":authority": "a.test"], endStream: true))
    }

    func testHTTP1ResponseBecomesAnH2HeadWithoutConnectionFields() {
        let head = HTTPResponseHead(
            version: .http1_1, status: .ok,
            headers: ["Content-Type": "text/plain", "Connection": "keep-alive, X-Hop", "Keep-Alive": "timeout=5", "X-Hop": "1", "Transfer-Encoding": "chunked", "X-Kept": "yes"])
        let h2 = HTTP2HeaderMapping.h2Response(head)
        XCTAssertEqual(h2.first?.name, ":status")
        XCTAssertEqual(h2.first(name: ":status"), "200")
        XCTAssertEqual(h2.first(name: "content-type"), "text/plain")
        XCTAssertEqual(h2.first(name: "x-kept"), "yes")
        for name in ["connection", "keep-alive", "x-hop", "transfer-encoding"] { XCTAssertFalse(h2.contains(name: name), name) }
    }

    func testTrailersBothWays() {
        let h1: HTTPHeaders = ["grpc-status": "0", "Grpc-Message": "ok"]
        let h2 = HTTP2HeaderMapping.h2Fields(h1)
        XCTAssertEqual(h2.first(name: "grpc-status"), "0")
        XCTAssertEqual(h2.first(name: "grpc-message"), "ok")
        let back = HTTP2HeaderMapping.http1Fields([":status": "200", "x-checksum": "abc", "connection": "close"])
        XCTAssertEqual(back.first(name: "x-checksum"), "abc")
        XCTAssertEqual(back.count, 1)
    }

    func testHSTSIsAddedToFinalResponsesOnlyWhenMissing() {
        let hsts = [HTTPIngressStateMachine.AddedHeader(name: "strict-transport-security", value: "max-age=600")]
        XCTAssertEqual(HTTP2HeaderMapping.response([":status": "200"], adding: hsts).first(name: "strict-transport-security"), "max-age=600")
        XCTAssertFalse(HTTP2HeaderMapping.response([":status": "100"], adding: hsts).contains(name: "strict-transport-security"))
        let own = HTTP2HeaderMapping.response([":status": "200", "strict-transport-security": "max-age=1"], adding: hsts)
        XCTAssertEqual(Array(own.values(forHeader: "strict-transport-security")), ["max-age=1"])
    }
}
