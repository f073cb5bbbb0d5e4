import NIOCore
import Operations
import XCTest

@testable import TunnelServer

/// The inspector's ring: bounded per tunnel and in tunnels, newest first, off until enabled,
/// sensitive tunnels never kept.
final class RequestInspectorTests: XCTestCase {
    func exchange(_ tunnel: String, _ path: String, body: Int = 0) -> HTTPExchange {
        var e = HTTPExchange(tunnel: tunnel, host: "\(tunnel).test", method: "GET", target: path, proto: "HTTP/1.1", started: .now(), capture: .init(heads: true, bodyLimit: 8))
        e.status = 200
        if body > 0 { e.responseBody(ByteBuffer(repeating: 0x61, count: body)) }
        return e
    }

    func testOffUntilEnabled() {
        let inspector = RequestInspector(settings: .init(perTunnel: 3))
        XCTAssertNil(inspector.record(exchange("a", "/"), client: nil, finished: .now()))
        inspector.enable()
        XCTAssertNotNil(inspector.record(exchange("a", "/"), client: nil, finished: .now()))
        XCTAssertFalse(RequestInspector(settings: .init(perTunnel: 0)).isEnabled)
    }

    func testEachTunnelKeepsItsLatestAndTheStalestTunnelMakesRoom() {
        let inspector = RequestInspector(settings: .init(perTunnel: 3, maxTunnels: 2))
        inspector.enable()
        for i in 0..<10 { inspector.record(exchange("a", "/a\(i)"), client: "c", finished: .now()) }
        XCTAssertEqual(inspector.list(tunnel: "a").map(\.path), ["/a9", "/a8", "/a7"])
        inspector.record(exchange("b", "/b0"), client: nil, finished: .now())
        inspector.record(exchange("c", "/c0"), client: nil, finished: .now())
        XCTAssertEqual(inspector.list().map(\.path), ["/c0", "/b0"], "a's newest record was the oldest: its ring made room")
        XCTAssertEqual(inspector.usage.records, 2)
        XCTAssertEqual(inspector.list(limit: 1).map(\.path), ["/c0"])
        let kept = inspector.list().first!
        XCTAssertEqual(inspector.request(id: kept.id), kept)
        XCTAssertNil(inspector.request(id: "r0"))
    }

    func testBodiesAreCutAtTheLimitAndExcludedTunnelsAreNeverKept() {
        let inspector = RequestInspector(settings: .init(perTunnel: 5, bodyLimit: 8, excluded: ["secret"]))
        inspector.enable()
        let record = inspector.record(exchange("a", "/", body: 20), client: nil, finished: .now())
        XCTAssertEqual(record?.responseBody?.count, 8)
        XCTAssertEqual(record?.responseBytes, 20)
        XCTAssertEqual(record?.responseBodyTruncated, true)
        XCTAssertNil(inspector.record(exchange("secret", "/"), client: nil, finished: .now()))
        XCTAssertNil(inspector.capture(for: "secret"))
    }

    func testMemoryIsBoundedByTheSettings() {
        let inspector = RequestInspector(settings: .init(perTunnel: 10, bodyLimit: 8, maxTunnels: 4))
        inspector.enable()
        for i in 0..<5000 { inspector.record(exchange("t\(i % 4)", "/\(i)", body: 100), client: nil, finished: .now()) }
        XCTAssertEqual(inspector.usage.records, 40)
        XCTAssertLessThan(inspector.usage.bytes, 40 * 1024)
        // More tunnels than rings: never more than the bound.
        for i in 0..<5000 { inspector.record(exchange("u\(i % 7)", "/\(i)", body: 100), client: nil, finished: .now()) }
        XCTAssertLessThanOrEqual(inspector.usage.records, 40)
    }
}
