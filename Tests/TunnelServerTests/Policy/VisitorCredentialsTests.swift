import Crypto
import Foundation
import HummingbirdBcrypt
import NIOCore
import NIOPosix
import TunnelProtocol
import XCTest

@testable import TunnelServer

/// The credential checkers: bcrypt users (hashed off the loop, cached), bearer tokens, JWTs
/// against a JWKS file, and the gate choosing the relay's layer over an agent's.
final class VisitorCredentialsTests: XCTestCase {
    func testBcryptUsersAreCheckedOffTheLoopAndCached() throws {
        let hash = Bcrypt.hash("wonder land", cost: 4)
        let htpasswdStyle = "$2y$" + hash.dropFirst(4)
        let users = try BasicAuthUsers(users: ["alice": hash, "bob": String(htpasswdStyle), "carol": "plain-pw"], path: "p")
        XCTAssertEqual(users.warnings.count, 1)
        XCTAssertTrue(users.warnings[0].contains("p.carol"), users.warnings[0])
        XCTAssertNil(users.quickCheck(user: "alice", password: "wonder land"), "a bcrypt hash is never computed on the caller's thread")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        XCTAssertTrue(try users.check(user: "alice", password: "wonder land", pool: .singleton, eventLoop: loop).wait())
        XCTAssertEqual(users.quickCheck(user: "alice", password: "wonder land"), true, "cached")
        XCTAssertFalse(try users.check(user: "alice", password: "wrong", pool: .singleton, eventLoop: loop).wait())
        XCTAssertEqual(users.quickCheck(user: "alice", password: "wrong"), false)
        XCTAssertTrue(try users.check(user: "bob", password: "wonder land", pool: .singleton, eventLoop: loop).wait(), "$2y$ is $2b$")
        XCTAssertFalse(try users.check(user: "mallory", password: "wonder land", pool: .singleton, eventLoop: loop).wait())
        XCTAssertEqual(users.quickCheck(user: "carol", password: "plain-pw"), true)
        XCTAssertEqual(users.quickCheck(user: "carol", password: "plain-p"), false)
    }

    func testStoredPasswordsAreCheckedAtLoad() {
        XCTAssertThrowsError(try BasicAuthUsers(users: ["a": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"], path: "p.users")) {
            XCTAssertTrue("\($0)".contains("p.users.a") && "\($0)".contains("argon2"), "\($0)")
        }
        XCTAssertThrowsError(try BasicAuthUsers(users: ["a": "$2b$10$short"], path: "p"))
        XCTAssertThrowsError(try BasicAuthUsers(users: ["a:b": "x"], path: "p"))
    }

    func testAuthorizationHeadersAreParsed() {
        let basic = BasicAuthUsers.credentials(fromAuthorization: "basic " + Data("al:ice:pw".utf8).base64EncodedString())
        XCTAssertEqual(basic?.user, "al")
        XCTAssertEqual(basic?.password, "ice:pw")
        XCTAssertNil(BasicAuthUsers.credentials(fromAuthorization: "Basic !!!"))
        XCTAssertNil(BasicAuthUsers.credentials(fromAuthorization: "Bearer abc"))
        XCTAssertEqual(BearerTokens.token(fromAuthorization: "Bearer  k-1 "), "k-1")
        XCTAssertNil(BearerTokens.token(fromAuthorization: "Bearer"))
        let tokens = BearerTokens(["k-1", "k-22"])
        XCTAssertTrue(tokens.accepts("k-22"))
        XCTAssertFalse(tokens.accepts("k-2"))
        XCTAssertFalse(tokens.accepts(""))
    }

    // MARK: JWT

    func b64(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func token(_ key: P256.Signing.PrivateKey, kid: String?, alg: String = "ES256", claims: [String: Any]) throws -> String {
        var header: [String: Any] = ["alg": alg, "typ": "JWT"]
        header["kid"] = kid
        let h = b64(try JSONSerialization.data(withJSONObject: header))
        let p = b64(try JSONSerialization.data(withJSONObject: claims))
        return "\(h).\(p).\(b64(try key.signature(for: Data("\(h).\(p)".utf8)).rawRepresentation))"
    }

    func jwks(_ keys: [(P256.Signing.PrivateKey, String)]) -> String {
        let list = keys.map { key, kid in
            let raw = key.publicKey.rawRepresentation
            return "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"\(kid)\",\"x\":\"\(b64(raw.prefix(32)))\",\"y\":\"\(b64(raw.suffix(32)))\"}"
        }
        return "{\"keys\":[\(list.joined(separator: ","))]}"
    }

    func verifier(file: URL, issuer: String? = nil, audience: String? = nil) async throws -> JWTVerifier {
        let v = JWTVerifier(settings: try JWTSettings(.init(jwksFile: file.path, issuer: issuer, audience: audience), path: "p"))
        try await settle(v) { v.loadedCount > 0 }
        return v
    }

    /// Refreshes until `done` (bounded): the verifier's own background load may be in flight, and
    /// a refresh asked for meanwhile returns at once.
    func settle(_ v: JWTVerifier, until done: () -> Bool) async throws {
        for _ in 0..<25 where !done() {
            await v.refresh()
            if !done() { try await Task.sleep(nanoseconds: 200_000_000) }
        }
    }

    func testJWTsAreVerifiedWithTheirClaims() async throws {
        let key = P256.Signing.PrivateKey()
        let other = P256.Signing.PrivateKey()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID()).json")
        addTeardownBlock { try? FileManager.default.removeItem(at: file) }
        try jwks([(key, "k1")]).write(to: file, atomically: true, encoding: .utf8)
        let v = try await verifier(file: file, issuer: "iss-1", audience: "app")
        XCTAssertGreaterThan(v.loadedCount, 0)
        let now = Int(Date().timeIntervalSince1970)
        let good: [String: Any] = ["iss": "iss-1", "aud": ["app", "x"], "sub": "alice", "exp": now + 60]
        func reason(_ t: String) -> String {
            switch v.verify(t) {
            case .success(let sub): return "ok \(sub ?? "")"
            case .failure(let r): return r.reason
            }
        }
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: good)), "ok alice")
        XCTAssertEqual(reason(try token(key, kid: nil, claims: good)), "ok alice", "one key for the algorithm: no kid needed")
        var c = good
        c["exp"] = now - 120
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "expired")
        c["exp"] = now - 30
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "ok alice", "within the leeway")
        c = good
        c["nbf"] = now + 600
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "not_yet_valid")
        c = good
        c.removeValue(forKey: "exp")
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "malformed")
        c = good
        c["iss"] = "iss-2"
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "wrong_issuer")
        c = good
        c["aud"] = "billing"
        XCTAssertEqual(reason(try token(key, kid: "k1", claims: c)), "wrong_audience")
        XCTAssertEqual(reason(try token(other, kid: "k1", claims: good)), "bad_signature")
        XCTAssertEqual(reason(try token(other, kid: "k9", claims: good)), "unknown_key")
        XCTAssertEqual(reason(try token(key, kid: "k1", alg: "ES384", claims: good)), "unknown_key", "the token's algorithm must be the key's")
        let none = b64(Data("{\"alg\":\"none\"}".utf8)) + "." + b64(try JSONSerialization.data(withJSONObject: good)) + "."
        XCTAssertEqual(reason(none), "malformed")
        XCTAssertEqual(reason("garbage"), "malformed")
        // A new key in the file is picked up on the next refresh.
        try jwks([(key, "k1"), (other, "k2")]).write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: file.path)
        let rotated = try token(other, kid: "k2", claims: good)
        try await settle(v) { reason(rotated) == "ok alice" }
        XCTAssertEqual(reason(rotated), "ok alice")
    }

    func testAJWKSURLIsFetched() async throws {
        let key = P256.Signing.PrivateKey()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try jwks([(key, "k1")]).write(to: dir.appendingPathComponent("jwks.json"), atomically: true, encoding: .utf8)
        // A real HTTP server (Python's) serving the key set on loopback; it writes its port to a file.
        let portFile = dir.appendingPathComponent("port")
        let script = """
            import functools, http.server, sys
            h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
            open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
            import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
            s.timeout = 1
            for _ in range(60): s.handle_request()
            """
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script, dir.path, portFile.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        addTeardownBlock { server.terminate() }
        var port = 0
        for _ in 0..<100 where port == 0 {
            port = Int((try? String(contentsOf: portFile, encoding: .utf8)) ?? "") ?? 0
            if port == 0 { try await Task.sleep(nanoseconds: 100_000_000) }
        }
        XCTAssertNotEqual(port, 0, "the JWKS server did not start")
        let v = JWTVerifier(settings: try JWTSettings(.init(jwksURL: "http://127.0.0.1:\(port)/jwks.json"), path: "p"))
        try await settle(v) { v.loadedCount > 0 }
        let t = try token(key, kid: "k1", claims: ["exp": Int(Date().timeIntervalSince1970) + 60])
        guard case .success = v.verify(t) else { return XCTFail("the key from the URL was not used") }
    }

    func testJWTSettingsAreCheckedWithTheirPath() {
        XCTAssertThrowsError(try JWTSettings(.init(), path: "p.jwt")) { XCTAssertTrue("\($0)".contains("jwksFile or jwksURL"), "\($0)") }
        XCTAssertThrowsError(try JWTSettings(.init(jwksURL: "ftp://x/"), path: "p.jwt")) { XCTAssertTrue("\($0)".contains("p.jwt.jwksURL"), "\($0)") }
        XCTAssertThrowsError(try JWTSettings(.init(jwksFile: "/a", jwksURL: "http://b/"), path: "p.jwt"))
        let cookie = try? JWTSettings(.init(jwksFile: "/a", cookie: "session"), path: "p")
        XCTAssertEqual(cookie?.token { $0 == "cookie" ? "a=1; session=tok; b=2" : nil }, "tok")
        let header = try? JWTSettings(.init(jwksFile: "/a", header: "X-Auth"), path: "p")
        XCTAssertEqual(header?.token { $0 == "x-auth" ? "raw-token" : nil }, "raw-token")
    }

    // MARK: the gate

    func testTheRelaysLayerDecidesCredentialsAndEveryLayersAddressChecksApply() throws {
        let gate = VisitorGate()
        var relayConfig = VisitorPolicyConfig()
        relayConfig.bearerTokens = ["relay-key"]
        relayConfig.deny = ["192.0.2.66"]
        var agentConfig = VisitorPolicyConfig()
        agentConfig.bearerTokens = ["agent-key"]
        agentConfig.deny = ["192.0.2.77"]
        agentConfig.requestHeaders = .init(set: ["X-Team": "agent"])
        relayConfig.requestHeaders = .init(set: ["X-Team": "relay"])
        let layers = [try VisitorPolicy(relayConfig, label: "relay", path: "r"), try VisitorPolicy(agentConfig, label: "agent", path: "a", trusted: false)]
        func admit(_ ip: String, _ auth: String?) throws -> Admission {
            gate.admit(.init(source: try SocketAddress(ipAddress: ip, port: 1), host: "h", field: { $0 == "authorization" ? auth : nil }), tunnel: "t", layers: layers)
        }
        guard case .pass(let rewrite) = try admit("192.0.2.1", "Bearer relay-key") else { return XCTFail() }
        XCTAssertEqual(rewrite.request.fields, [.init(name: "X-Team", value: "relay")], "the relay's header value stands")
        XCTAssertTrue(rewrite.request.removed.contains("authorization"))
        guard case .refuse(let r1) = try admit("192.0.2.1", "Bearer agent-key") else { return XCTFail("the agent's key must not open the relay's lock") }
        XCTAssertEqual(r1.status, 401)
        guard case .refuse(let r2) = try admit("192.0.2.66", "Bearer relay-key"), case .refuse(let r3) = try admit("192.0.2.77", "Bearer relay-key") else { return XCTFail() }
        XCTAssertEqual([r2.status, r3.status], [403, 403])
    }
}
