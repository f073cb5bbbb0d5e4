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

    /// A key left out of a token grants nothing of its kind; `"*"` must be written out.
    func testMissingRightsMeanNothing() throws {
        let p = TokenPolicy(rights: ["t": TokenRights(tunnels: ["t1"])])
        XCTAssertNil(p.refusal(for: hello("t")))
        XCTAssertEqual(p.refusal(for: hello("t", hosts: ["a.example.com"])), "hostname a.example.com not allowed for this token")
        XCTAssertEqual(p.refusal(for: hello("t", ports: [20000])), "port 20000 not allowed for this token")
        XCTAssertEqual(p.refusal(for: hello("t", udp: [20000])), "port 20000 not allowed for this token")
        let none = TokenPolicy(rights: ["n": TokenRights(hostnames: ["*"], ports: [1...65535])])
        XCTAssertEqual(none.refusal(for: hello("n", id: "anything")), "tunnel anything not allowed for this token")

        let dir = FileManager.default.temporaryDirectory
        let file = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        try "tokens:\n- token: a\n  hostnames: ['*.x.test']\n- token: b\n  tunnels: ['*']\n  ports: ['*']\n".write(to: file, atomically: true, encoding: .utf8)
        let loaded = try TokenPolicy.load(path: file.path)
        XCTAssertEqual(loaded.rights["a"]?.tunnels, [])
        XCTAssertEqual(loaded.rights["a"]?.ports, [])
        XCTAssertEqual(loaded.rights["b"]?.ports, [1...65535])
        XCTAssertEqual(loaded.rights["b"]?.hostnames, [])
        XCTAssertEqual(loaded.warnings.count, 1)
        XCTAssertTrue(loaded.warnings[0].contains("tokens[0]: no tunnels: key"), loaded.warnings[0])
        XCTAssertEqual(loaded.refusal(for: hello("a", hosts: ["app.x.test"])), "tunnel t1 not allowed for this token")
        XCTAssertEqual(loaded.refusal(for: hello("b", hosts: ["app.x.test"])), "hostname app.x.test not allowed for this token")
    }

    /// Exclusive weight (255) takes every new stream of a tunnel: only a token that names the
    /// tunnel (or a full-rights key) may ask for it.
    func testExclusiveWeightNeedsATokenThatNamesTheTunnel() {
        let p = TokenPolicy(rights: ["any": TokenRights(tunnels: ["*"]), "mine": TokenRights(tunnels: ["t1"]), "full": .all])
        func exclusive(_ token: String, _ id: String) -> TunnelMessages.Hello {
            TunnelMessages.Hello(token: token, tunnels: [.init(id: id, weight: 255)])
        }
        XCTAssertEqual(p.refusal(for: exclusive("any", "t9")), "weight 255 (exclusive) of tunnel t9 needs the token to name that tunnel, not \"*\"")
        XCTAssertNil(p.refusal(for: exclusive("mine", "t1")))
        XCTAssertNil(p.refusal(for: exclusive("full", "t2")))
        XCTAssertNil(TokenPolicy().refusal(for: exclusive("whoever", "t3")), "an open relay has no owners to protect")
    }

    /// A tunnel or port claimed by one token never goes to another while that token exists, even
    /// when the other's rights would allow it and the owner's agents are offline.
    func testClaimsStayWithTheFirstToken() {
        let owners = ClaimOwners()
        let p = TokenPolicy(rights: ["a": TokenRights(tunnels: ["*"], ports: [20000...20010]), "b": TokenRights(tunnels: ["*"], ports: [20000...20010])], owners: owners)
        XCTAssertNil(p.refusal(for: hello("a", id: "shop", ports: [20001])))
        XCTAssertNil(p.refusal(for: hello("a", id: "shop", ports: [20001])), "the owner may come back")
        XCTAssertEqual(p.refusal(for: hello("b", id: "shop")), "tunnel shop is held by another token")
        XCTAssertEqual(p.refusal(for: hello("b", id: "other", ports: [20001])), "port tcp/20001 is held by another token")
        XCTAssertNil(p.refusal(for: hello("b", id: "other", udp: [20001])), "udp/20001 is another port")
        XCTAssertEqual(p.refusal(for: hello("a", id: "x", udp: [20001])), "port udp/20001 is held by another token")
        // A refused hello takes nothing.
        XCTAssertNil(owners.owner(ofTunnel: "x"))
        // Removing token a from the configuration frees its claims.
        let without = TokenPolicy(rights: ["b": TokenRights(tunnels: ["*"], ports: [20000...20010])], owners: owners)
        XCTAssertNil(without.refusal(for: hello("b", id: "shop", ports: [20001])))
        XCTAssertEqual(owners.owner(ofTunnel: "shop"), ClaimOwners.principal(of: "b"))
    }

    /// The claims table survives a restart through the state directory, and a damaged one is an
    /// error rather than a silent reset.
    func testClaimsTableIsKeptOnDisk() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("claims-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let first = try ClaimOwners(file: file)
        XCTAssertNil(first.claim(hello("a", id: "shop", ports: [2222]), by: "pa", livePrincipals: nil))
        var reloaded: ClaimOwners?
        for _ in 0..<200 {  // the write happens off the caller's thread: bounded wait
            if let r = try? ClaimOwners(file: file), r.owner(ofTunnel: "shop") == "pa" {
                reloaded = r
                break
            }
            usleep(10_000)
        }
        XCTAssertEqual(reloaded?.owner(ofPort: "tcp/2222"), "pa")
        XCTAssertEqual(reloaded?.claim(hello("b", id: "shop"), by: "pb", livePrincipals: nil), "tunnel shop is held by another token")
        XCTAssertFalse(try String(contentsOfFile: file, encoding: .utf8).contains("\"a\""), "no token in the file")
        try "{not json".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ClaimOwners(file: file)) { XCTAssertTrue("\($0)".contains("cannot read the claims table"), "\($0)") }
    }

    /// Agents on an address that a guesser got blocked keep registering with their good token; the
    /// guesser's other tokens are still refused.
    func testBlockedAddressStillAdmitsTokensThatRegisteredFromIt() {
        let limiter = FailureLimiter(maxFailures: 3, window: .seconds(60))
        let t0 = ContinuousClock.now
        limiter.recordSuccess("10.0.0.1", principal: "good")
        for _ in 0..<3 { limiter.recordFailure("10.0.0.1", now: t0) }
        XCTAssertTrue(limiter.isBlocked("10.0.0.1", now: t0))
        XCTAssertTrue(limiter.hasGoodTokens("10.0.0.1"))
        XCTAssertFalse(limiter.isBlocked("10.0.0.1", principal: "good", now: t0))
        XCTAssertTrue(limiter.isBlocked("10.0.0.1", principal: "guess", now: t0))
        XCTAssertFalse(limiter.hasGoodTokens("10.0.0.2"))
    }
}
