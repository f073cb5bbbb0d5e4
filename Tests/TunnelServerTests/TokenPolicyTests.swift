import XCTest

@testable import TunnelServer
import TunnelProtocol

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
        addTeardownBlock { [good] in try? FileManager.default.removeItem(at: good) }
        try "tokens:\n- token: a\n  hostnames: ['*.x.test']\n  ports: ['20000-20005', '30000']\n".write(to: good, atomically: true, encoding: .utf8)
        let p = try TokenPolicy.load(path: good.path)
        XCTAssertEqual(p.rights["a"]?.ports, [20000...20005, 30000...30000])
        let bad = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        addTeardownBlock { [bad] in try? FileManager.default.removeItem(at: bad) }
        try "tokens:\n- token: a\n  portz: ['1']\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenPolicy.load(path: bad.path)) {
            XCTAssertEqual("\($0)".components(separatedBy: ": ").dropFirst().first, "tokens[0].portz", "the key's path, no decoder dump: \($0)")
        }
        let empty = dir.appendingPathComponent("tokens-\(UUID()).yaml")
        addTeardownBlock { [empty] in try? FileManager.default.removeItem(at: empty) }
        try "tokens: []\n".write(to: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenPolicy.load(path: empty.path)) { XCTAssertTrue("\($0)".contains("at least one token"), "\($0)") }
    }

    /// The tokens file goes through the config's strict decoder: an unknown key anywhere is
    /// refused with the file and the key's full path, and a token written as a number is text.
    func testTokensFileRefusesUnknownKeysWithTheFileAndTheFullPath() throws {
        func write(_ yaml: String) throws -> String {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID()).yaml")
            addTeardownBlock { [file] in try? FileManager.default.removeItem(at: file) }
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
        let nested = try write("tokens:\n- token: a\n  tunnels: ['*']\n- token: b\n  tunnel: ['x']\n")
        XCTAssertThrowsError(try TokenPolicy.load(path: nested)) {
            XCTAssertEqual("\($0)", "\(nested): tokens[1].tunnel: unknown key \"tunnel\" (known here: agentPolicy, hostnames, policy, ports, token, tunnels)")
        }
        let top = try write("tokenz: []\n")
        XCTAssertThrowsError(try TokenPolicy.load(path: top)) {
            XCTAssertEqual("\($0)", "\(top): tokenz: unknown key \"tokenz\" (known here: tokens)")
        }
        XCTAssertEqual(try TokenPolicy.load(path: write("tokens:\n- token: 1234\n  tunnels: ['*']\n")).rights["1234"]?.tunnels, ["*"])
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
        addTeardownBlock { [file] in try? FileManager.default.removeItem(at: file) }
        try "tokens:\n- token: a\n  hostnames: ['*.x.test']\n- token: b\n  tunnels: ['*']\n  ports: ['*']\n".write(to: file, atomically: true, encoding: .utf8)
        let loaded = try TokenPolicy.load(path: file.path)
        XCTAssertEqual(loaded.rights["a"]?.tunnels, [])
        XCTAssertEqual(loaded.rights["a"]?.ports, [])
        XCTAssertEqual(loaded.rights["b"]?.ports, [1...65535])
        XCTAssertEqual(loaded.rights["b"]?.hostnames, [])
        XCTAssertEqual(loaded.warnings.count, 3, "\(loaded.warnings)")
        XCTAssertTrue(loaded.warnings[0].contains("tokens[0]: no tunnels: key, so this token admits no agent"), loaded.warnings[0])
        XCTAssertTrue(loaded.warnings[1].contains("tokens[0]: no ports: key"), loaded.warnings[1])
        XCTAssertTrue(loaded.warnings[2].contains("tokens[1]: no hostnames: key"), loaded.warnings[2])
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

    /// A tunnel, hostname or port claimed by one token never goes to another while that token
    /// exists, even when the other's rights would allow it and the owner's agents are offline.
    func testClaimsStayWithTheFirstToken() throws {
        let owners = ClaimOwners()
        let any = TokenRights(tunnels: ["*"], hostnames: ["*", "*.example.org"], ports: [20000...20010])
        let p = TokenPolicy(rights: ["a": any, "b": any], owners: owners)
        owners.addLive(p.principals)
        XCTAssertNil(p.refusal(for: hello("a", id: "shop", ports: [20001])))
        XCTAssertNil(p.refusal(for: hello("a", id: "shop", ports: [20001])), "the owner may come back")
        XCTAssertEqual(p.refusal(for: hello("b", id: "shop")), "tunnel shop is held by another token")
        XCTAssertEqual(p.refusal(for: hello("b", id: "other", ports: [20001])), "port tcp/20001 is held by another token")
        XCTAssertNil(p.refusal(for: hello("b", id: "other", udp: [20001])), "udp/20001 is another port")
        XCTAssertEqual(p.refusal(for: hello("a", id: "x", udp: [20001])), "port udp/20001 is held by another token")
        XCTAssertNil(owners.owner(ofTunnel: "x"), "a refused hello takes nothing")
        // Hostnames too: a second token may not re-point a name at its own tunnel, nor take a name
        // under the first one's wildcard.
        XCTAssertNil(p.refusal(for: hello("a", id: "shop", hosts: ["shop.example.com", ".example.org"])))
        XCTAssertEqual(p.refusal(for: hello("b", id: "mine", hosts: ["SHOP.example.com."])), "hostname shop.example.com is held by another token")
        XCTAssertEqual(p.refusal(for: hello("b", id: "mine", hosts: ["*.example.org"])), "hostname *.example.org is held by another token")
        XCTAssertEqual(p.refusal(for: hello("b", id: "mine", hosts: ["api.example.org"])), "hostname api.example.org is under *.example.org, held by another token")
        XCTAssertEqual(p.refusal(for: hello("b", id: "mine", hosts: ["example.org"])), "hostname example.org is under *.example.org, held by another token", "the wildcard covers the apex")
        XCTAssertNil(p.refusal(for: hello("b", id: "mine", hosts: ["api.shop.example.net"])))
        XCTAssertEqual(ClaimOwners.coveringWildcards("a.example.com"), ["*.a.example.com", "*.example.com", "*.com"])
        XCTAssertEqual(ClaimOwners.coveringWildcards("*.example.com"), ["*.com"])
    }

    /// A "*" hostname grant claims names, not wildcards (one that swallows every name under it);
    /// a wildcard needs a wildcard pattern in the rights.
    func testWildcardClaimsNeedAWildcardGrant() {
        let p = TokenPolicy(rights: ["star": TokenRights(tunnels: ["*"], hostnames: ["*"]), "wild": TokenRights(tunnels: ["*"], hostnames: ["*.example.com"])])
        XCTAssertEqual(p.refusal(for: hello("star", id: "s", hosts: ["*.com"])), "wildcard *.com needs a wildcard pattern in the token's hostnames, not \"*\"")
        XCTAssertNil(p.refusal(for: hello("star", id: "s", hosts: ["name.example.net"])))
        XCTAssertNil(p.refusal(for: hello("wild", id: "w", hosts: ["*.example.com"])))
        XCTAssertNil(p.refusal(for: hello("wild", id: "w", hosts: ["*.a.example.com"])))
    }

    /// What the operator wrote by name is shared: two tokens that name one tunnel (a rotation) both
    /// serve it; the operator's own keys are one principal; an open relay has one principal.
    func testClaimsGrantedByNameAreShared() {
        let p = TokenPolicy(rights: ["old": TokenRights(tunnels: ["t"], ports: [2222...2222]), "new": TokenRights(tunnels: ["t"], ports: [2222...2222]),
                                     "k1": .all, "k2": .all])
        XCTAssertNil(p.refusal(for: hello("old", id: "t", ports: [2222])))
        XCTAssertNil(p.refusal(for: hello("new", id: "t", ports: [2222])))
        XCTAssertNil(p.refusal(for: hello("k1", id: "ops", ports: [3000])))
        XCTAssertNil(p.refusal(for: hello("k2", id: "ops", ports: [3000])), "GOST's tokens=a,b serve one tunnel")
        XCTAssertEqual(p.refusal(for: hello("k1", id: "s", hosts: ["x"]).withTunnelID("socks5-bind:tcp/2222")), "tunnel IDs starting socks5-bind: belong to SOCKS5 mux-bind")
        let open = TokenPolicy()
        open.owners.addLive(open.principals)
        XCTAssertNil(open.refusal(for: hello("a", id: "t")))
        XCTAssertNil(open.refusal(for: hello("b", id: "t")))
    }

    /// The claims table survives a restart through the state directory (a new one for a relay
    /// started with -L), an owner no longer configured is void, and a damaged file is an error
    /// rather than a silent reset.
    func testClaimsTableIsKeptOnDisk() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("claims-\(UUID())").path
        let file = dir + "/claims.json"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try ClaimOwners(file: file)
        XCTAssertNil(first.claim([.init(.tunnel, "shop"), .init(.port, "tcp/2222"), .init(.hostname, ".Example.com")], by: "pa"))
        var reloaded: ClaimOwners?
        for _ in 0..<200 {  // the write happens off the caller's thread: bounded wait
            if let r = try? ClaimOwners(file: file), r.owner(ofTunnel: "shop") == "pa" {
                reloaded = r
                break
            }
            usleep(10_000)
        }
        let r = try XCTUnwrap(reloaded)
        XCTAssertEqual(r.owner(ofPort: "tcp/2222"), "pa")
        XCTAssertEqual(r.owner(ofHostname: "*.example.com"), "pa")
        XCTAssertEqual(r.claim([.init(.tunnel, "shop")], by: "pb"), "tunnel shop is held by another token")
        r.addLive(["pb"])
        XCTAssertNil(r.claim([.init(.tunnel, "shop")], by: "pb"), "pa is no longer configured: its claims are void")
        try "{not json".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ClaimOwners(file: file)) { XCTAssertTrue("\($0)".contains("cannot read the claims table"), "\($0)") }
    }

    /// One principal cannot fill the table for everyone.
    func testClaimsPerPrincipalAreBounded() {
        let owners = ClaimOwners()
        let many = (0..<ClaimOwners.maxPerPrincipal).map { ClaimOwners.Item(.tunnel, "t\($0)") }
        XCTAssertNil(owners.claim(many, by: "greedy"))
        XCTAssertEqual(owners.claim([.init(.tunnel, "one-more")], by: "greedy"), "this token holds the most claims allowed (\(ClaimOwners.maxPerPrincipal))")
        XCTAssertNil(owners.claim([.init(.tunnel, "one-more")], by: "modest"))
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

extension TunnelMessages.Hello {
    /// The same hello with its first tunnel's ID replaced.
    func withTunnelID(_ id: String) -> TunnelMessages.Hello {
        var copy = self
        copy.tunnels[0].id = id
        return copy
    }
}

extension TokenPolicyTests {
    /// A token's visitor policy is compiled per tunnel it serves; an agent's own comes after it,
    /// only where the token allows, and never names files.
    func testVisitorPoliciesLayerTheTokensThenTheAgents() throws {
        var tokenPolicy = VisitorPolicyConfig()
        tokenPolicy.deny = ["192.0.2.0/24"]
        var agentPolicy = VisitorPolicyConfig()
        agentPolicy.allow = ["10.0.0.0/8"]
        let strict = TokenPolicy(rights: ["s": TokenRights(tunnels: ["*"], policy: tokenPolicy)])
        var claim = TunnelMessages.TunnelClaim(id: "t1")
        XCTAssertEqual(try strict.visitorPolicies(for: .init(token: "s", tunnels: [claim]))["t1"]?.map(\.label), ["tunnel t1"])
        claim.policy = agentPolicy
        XCTAssertThrowsError(try strict.visitorPolicies(for: .init(token: "s", tunnels: [claim]))) {
            XCTAssertTrue("\($0)".contains("may not set a visitor policy"), "\($0)")
        }
        let open = TokenPolicy(rights: ["o": TokenRights(tunnels: ["*"], policy: tokenPolicy, agentPolicy: true)])
        let layers = try XCTUnwrap(try open.visitorPolicies(for: .init(token: "o", tunnels: [claim, .init(id: "t2")])))
        XCTAssertEqual(layers["t1"]?.map(\.label), ["tunnel t1", "tunnel t1 (agent)"])
        XCTAssertEqual(layers["t2"]?.count, 1)
        XCTAssertFalse(layers["t1"]![0] === layers["t2"]![0], "compiled per tunnel: a budget or a connection count is the tunnel's own")
        claim.policy?.errorPages = ["404": "/etc/passwd"]
        XCTAssertThrowsError(try open.visitorPolicies(for: .init(token: "o", tunnels: [claim])))
    }
}
