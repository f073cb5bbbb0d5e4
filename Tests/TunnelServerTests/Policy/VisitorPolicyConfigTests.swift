import NIOCore
import NIOHPACK
import Shared
import TunnelProtocol
import XCTest

@testable import TunnelServer

/// A rule's `policy:` as the relay reads it: every mistake refused with its path, header edits
/// checked, the rewrite built, and what an agent may not ask for.
final class VisitorPolicyConfigTests: XCTestCase {
    func rule(_ policy: String, extra: String = "") throws -> RuleOptions {
        let yaml = "ingresses:\n- name: i\n  rules:\n  - hostname: app.test\n    endpoint: t\n\(extra)    policy:\n\(policy)"
        let config = try ConfigLoader.parse(yaml, sections: [IngressesSection.self])
        try config.sections[IngressesSection.self]!.validate()
        return try config.ingresses![0].rules[0].options(path: "ingresses[0].rules[0]")
    }

    func refusal(_ policy: String, extra: String = "") -> String {
        do {
            _ = try rule(policy, extra: extra)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    func testMistakesAreRefusedWithTheirPath() {
        XCTAssertTrue(refusal("      allow: [\"10.0.0.0/33\"]\n").contains("ingresses[0].rules[0].policy.allow[0]"), refusal("      allow: [\"10.0.0.0/33\"]\n"))
        XCTAssertTrue(refusal("      rateLimit: {rate: fast}\n").contains("policy.rateLimit"))
        XCTAssertTrue(refusal("      bandwidth: lots\n").contains("policy.bandwidth"))
        XCTAssertTrue(refusal("      maxConnections: 0\n").contains("policy.maxConnections"))
        XCTAssertTrue(refusal("      requestHeaders: {set: {\"Bad Name\": x}}\n").contains("policy.requestHeaders.set.Bad Name"))
        XCTAssertTrue(refusal("      requestHeaders: {set: {X-A: \"a\\r\\nX-Injected: 1\"}}\n").contains("control characters"))
        XCTAssertTrue(refusal("      responseHeaders: {remove: [Content-Length]}\n").contains("frames the message"))
        XCTAssertTrue(refusal("      errorPages: {\"200\": /dev/null}\n").contains("policy.errorPages.200"))
        XCTAssertTrue(refusal("      errorPages: {\"404\": /nonexistent/page.html}\n").contains("cannot read"))
        XCTAssertTrue(refusal("      basicAuth: {users: {}}\n").contains("policy.basicAuth.users"))
        XCTAssertTrue(refusal("      allowed: [\"10.0.0.0/8\"]\n").contains("unknown key \"allowed\""))
        XCTAssertTrue(refusal("      bearerTokens: [k]\n", extra: "    tls: passthrough\n").contains("passthrough"))
        XCTAssertEqual(refusal("      deny: [\"10.0.0.0/8\"]\n", extra: "    tls: passthrough\n"), "accepted")
    }

    func testTheRewriteStripsCheckedCredentialsUnlessPassed() throws {
        let stripped = try XCTUnwrap(try rule("      bearerTokens: [k]\n      hostHeaderRewrite: in.local\n").policy)
        XCTAssertEqual(stripped.rewrite.host, "in.local")
        XCTAssertTrue(stripped.rewrite.request.removed.contains("authorization"))
        let passed = try XCTUnwrap(try rule("      bearerTokens: [k]\n      passCredentials: true\n").policy)
        XCTAssertFalse(passed.rewrite.request.removed.contains("authorization"))
    }

    func testAnAgentsPolicyMayNotNameFiles() {
        var p = VisitorPolicyConfig()
        p.errorPages = ["404": "/etc/passwd"]
        XCTAssertThrowsError(try VisitorPolicy(p, label: "x", path: "p", trusted: false))
        p = VisitorPolicyConfig()
        p.jwt = .init(jwksURL: "http://169.254.169.254/")
        XCTAssertThrowsError(try VisitorPolicy(p, label: "x", path: "p", trusted: false))
        p = VisitorPolicyConfig()
        p.allow = ["10.0.0.0/8"]
        XCTAssertNoThrow(try VisitorPolicy(p, label: "x", path: "p", trusted: false))
    }

    func testLaterEditsWinAndTheRelaysRewriteIsAppliedLast() throws {
        let agent = try HeaderEdits(.init(set: ["X-Team": "agent"], add: ["X-Agent": "1"]), path: "a")
        let relay = try HeaderEdits(.init(set: ["x-team": "relay"], remove: ["X-Agent"]), path: "r")
        let merged = agent.then(relay)
        XCTAssertEqual(merged.fields, [.init(name: "x-team", value: "relay")])
        XCTAssertTrue(merged.removed.isSuperset(of: ["x-team", "x-agent"]))
        let r = RequestRewrite(host: "relay.local").then(RequestRewrite(host: nil))
        XCTAssertEqual(r.host, "relay.local")
    }

    func testForwardedHeadAppliesTheRewrite() throws {
        var rewrite = RequestRewrite(host: "in.local")
        rewrite.request = try HeaderEdits(.init(set: ["X-Team": "blue"], add: ["X-Extra": "1"], remove: ["Cookie"]), path: "p")
        rewrite.request.remove("authorization")
        let head = try XCTUnwrap(try HTTPFraming.parseHead(
            ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: app.test\r\nCookie: c=1\r\nauthorization: Basic eDp5\r\nX-Team: red\r\nX-Forwarded-Host: evil\r\nAccept: */*\r\n\r\n"),
            isRequest: true))
        XCTAssertEqual(head.path, "/a")
        let out = HTTPIngressStateMachine.forwardedHead(head, clientIP: "2001:db8::7", proto: "https", rewrite: rewrite, allocator: ByteBufferAllocator())
        XCTAssertEqual(
            String(buffer: out),
            "GET /a HTTP/1.1\r\nHost: in.local\r\nAccept: */*\r\nX-Team: blue\r\nX-Extra: 1\r\nX-Forwarded-For: 2001:db8::7\r\nX-Forwarded-Proto: https\r\n"
                + "X-Forwarded-Host: app.test\r\nForwarded: for=\"[2001:db8::7]\";host=\"app.test\";proto=https\r\n\r\n")
    }

    func testH2RequestAndResponseEdits() throws {
        var rewrite = RequestRewrite(host: "in.local")
        rewrite.request = try HeaderEdits(.init(set: ["X-Team": "blue"], remove: ["cookie"]), path: "p")
        let request: HPACKHeaders = [":method": "GET", ":authority": "app.test", ":path": "/", "cookie": "c", "x-team": "red"]
        let out = HTTP2HeaderMapping.forwardedRequest(request, clientIP: "192.0.2.1", proto: "https", rewrite: rewrite)
        XCTAssertEqual(out.first(name: ":authority"), "in.local")
        XCTAssertNil(out.first(name: "cookie"))
        XCTAssertEqual(out[canonicalForm: "x-team"], ["blue"])
        XCTAssertEqual(out.first(name: "x-forwarded-host"), "app.test")
        XCTAssertEqual(out.first(name: "forwarded"), "for=192.0.2.1;host=\"app.test\";proto=https")
        let edits = try HeaderEdits(.init(set: ["X-Frame-Options": "DENY"], remove: ["server"]), path: "p")
        let response = HTTP2HeaderMapping.response([":status": "200", "server": "x"], adding: [], edits: edits)
        XCTAssertNil(response.first(name: "server"))
        XCTAssertEqual(response.first(name: "x-frame-options"), "DENY")
    }

    func testLocationsMatchWholeSegments() {
        let api = LocationRule(prefix: "/api", tunnel: "api")
        XCTAssertTrue(api.matches("/api"))
        XCTAssertTrue(api.matches("/api/users"))
        XCTAssertFalse(api.matches("/apix"))
        XCTAssertTrue(LocationRule(prefix: "/api/", tunnel: "api").matches("/api/x"))
        let d = LocalTunnelDirectory(rules: [("app.test", "web")])
        d.addLocation("app.test", prefix: "/api/", tunnel: "api", policy: nil)
        d.addLocation("app.test", prefix: "/api/v2/", tunnel: "v2", policy: nil)
        XCTAssertEqual(d.route(host: "app.test:8080", path: "/api/v2/x")?.tunnel, "v2")
        XCTAssertEqual(d.route(host: "app.test", path: "/api/x")?.tunnel, "api")
        XCTAssertEqual(d.route(host: "APP.test", path: "/")?.tunnel, "web")
        XCTAssertNil(d.route(host: "other.test", path: "/api/"))
    }
}
