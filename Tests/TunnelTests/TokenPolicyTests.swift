import XCTest

@testable import Tunnel

final class TokenPolicyTests: XCTestCase {
    let policy = TokenPolicy(rights: [
        "full": .all,
        "web": TokenRights(tunnels: ["t1"], hostnames: ["*.example.com"], ports: [20000...20010]),
    ])

    func hello(_ token: String, id: String = "t1", hosts: [String]? = nil, ports: [Int]? = nil, udp: [Int]? = nil) -> TunnelMessages.Hello {
        TunnelMessages.Hello(token: token, tunnels: [.init(id: id, hostnames: hosts, ports: ports, udpPorts: udp)])
    }

    func testRightsAreEnforced() {
        XCTAssertNil(policy.refusal(for: hello("full", id: "any", hosts: ["x.org"], ports: [80])))
        XCTAssertNil(policy.refusal(for: hello("web", hosts: ["app.example.com", "*.a.example.com", "example.com"], ports: [20005], udp: [20010])))
        XCTAssertEqual(policy.refusal(for: hello("nope")), "unknown token")
        XCTAssertEqual(policy.refusal(for: hello("web", id: "t2")), "tunnel t2 not allowed for this token")
        XCTAssertEqual(policy.refusal(for: hello("web", hosts: ["evil.org"])), "hostname evil.org not allowed for this token")
        XCTAssertEqual(policy.refusal(for: hello("web", hosts: ["*.com"])), "hostname *.com not allowed for this token")
        XCTAssertEqual(policy.refusal(for: hello("web", ports: [20011])), "port 20011 not allowed for this token")
        XCTAssertEqual(policy.refusal(for: hello("web", udp: [53])), "port 53 not allowed for this token")
        XCTAssertEqual(policy.refusal(for: TunnelMessages.Hello(token: "full", tunnels: [])), "no tunnels claimed")
    }

    func testOpenPolicyAcceptsAnyToken() {
        XCTAssertNil(TokenPolicy().refusal(for: hello("whatever", hosts: ["a.b"], ports: [1])))
    }

    func testLimiterBlocksAfterRepeatedFailuresAndForgets() {
        let limiter = FailureLimiter(maxFailures: 3, window: .seconds(60))
        let t0 = ContinuousClock.now
        for _ in 0..<2 { limiter.recordFailure("1.2.3.4", now: t0) }
        XCTAssertFalse(limiter.isBlocked("1.2.3.4", now: t0))
        limiter.recordFailure("1.2.3.4", now: t0)
        XCTAssertTrue(limiter.isBlocked("1.2.3.4", now: t0 + .seconds(1)))
        XCTAssertFalse(limiter.isBlocked("5.6.7.8", now: t0 + .seconds(1)))
        XCTAssertFalse(limiter.isBlocked("1.2.3.4", now: t0 + .seconds(61)))
    }

    func testTokensFileIsStrict() throws {
        let dir = FileManager.default.temporaryDirectory
        let good = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        try "tokens:\n- token: a\n  hostnames: ['*.x.test']\n  ports: ['20000-20005', '30000']\n".write(to: good, atomically: true, encoding: .utf8)
        let p = try TokenPolicy.load(path: good.path)
        XCTAssertEqual(p.rights["a"]?.ports, [20000...20005, 30000...30000])
        let bad = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        try "tokens:\n- token: a\n  portz: ['1']\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenPolicy.load(path: bad.path)) {
            XCTAssertEqual("\($0)".components(separatedBy: ": ").dropFirst().first, "tokens[0].portz", "the key's path, no decoder dump: \($0)")
        }
        let empty = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        try "tokens: []\n".write(to: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenPolicy.load(path: empty.path)) { XCTAssertTrue("\($0)".contains("at least one token"), "\($0)") }
    }
}
