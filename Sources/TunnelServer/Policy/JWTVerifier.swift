import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Checks a rule's signed JWTs (`policy.jwt`) against a JWKS (a file, re-read when it changes, or
/// a URL, fetched in the background), synchronously, on the event loop of the request.
///
/// Why keys are resolved ahead: jwt-kit's key collection is an actor (every check would be an
/// `await` and a hop off the loop). It is used when a key set is loaded, to turn each key into a
/// `JWTAlgorithm` for each algorithm its type allows (or the one its `alg` names); those answer
/// `verify(_:signs:)` synchronously, so the check itself is a lookup, a signature check and the
/// claims (`exp`, `nbf`, `iss`, `aud`) read from jwt-kit's parser. `alg: none` and an algorithm
/// other than the key's are refused.
final class JWTVerifier: Sendable {
    let settings: JWTSettings
    /// Algorithms by `kid|alg`.
    private let keys = NIOLockedValueBox<[String: any JWTAlgorithm]>([:])
    private let state = NIOLockedValueBox(State())
    private let logger = Logger(label: "tunnel-server.policy.jwt")

    private struct State {
        var fileStamp: Date?
        var lastFetch: NIODeadline?
        var loading = false
    }

    /// How often a JWKS URL is fetched again, and a file's modification time looked at.
    static let urlRefresh = TimeAmount.minutes(10)
    static let fileCheck = TimeAmount.seconds(2)
    /// A token naming an unknown key fetches the URL again at most this often.
    static let unknownKeyRefetch = TimeAmount.minutes(1)

    struct Claims: JWTPayload {
        var exp: ExpirationClaim?
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var sub: SubjectClaim?

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Why a token was refused (`reason` is the counter's, `jwt_<reason>`).
    struct Refusal: Error, Equatable {
        var reason: String
        var detail: String
    }

    init(settings: JWTSettings) {
        self.settings = settings
        startRefreshing()
    }

    /// The key set now loaded (for tests: how many algorithms).
    var loadedCount: Int { keys.withLockedValue { $0.count } }

    /// Verifies `token` now: its signature by a loaded key, then its claims. The subject on
    /// success.
    func verify(_ token: String, now: Date = Date()) -> Result<String?, Refusal> {
        let bytes = Array(token.utf8)
        guard bytes.count <= 16 * 1024 else { return .failure(Refusal(reason: "malformed", detail: "longer than 16 KiB")) }
        let parsed: (header: JWTHeader, payload: Claims, signature: Data)
        do {
            parsed = try DefaultJWTParser().parse(bytes, as: Claims.self)
        } catch {
            return .failure(Refusal(reason: "malformed", detail: "\(error)"))
        }
        guard let alg = parsed.header.alg, alg.lowercased() != "none" else {
            return .failure(Refusal(reason: "malformed", detail: "no algorithm (alg: none is never accepted)"))
        }
        let loaded = keys.withLockedValue { $0 }
        if loaded.isEmpty {
            fetchSoon()
            return .failure(Refusal(reason: "no_keys", detail: "no key set loaded"))
        }
        let algorithm: (any JWTAlgorithm)?
        if let kid = parsed.header.kid {
            algorithm = loaded["\(kid)|\(alg)"]
        } else {
            let candidates = loaded.filter { $0.key.hasSuffix("|\(alg)") }
            algorithm = candidates.count == 1 ? candidates.first?.value : nil
        }
        guard let algorithm else {
            fetchSoon()
            return .failure(Refusal(reason: "unknown_key", detail: "no key \(parsed.header.kid ?? "(no kid)") for \(alg)"))
        }
        // The signing input is the token up to its second dot, as sent.
        guard let second = bytes.indices.filter({ bytes[$0] == UInt8(ascii: ".") }).dropFirst().first else {
            return .failure(Refusal(reason: "malformed", detail: "not three parts"))
        }
        guard (try? algorithm.verify(parsed.signature, signs: bytes[..<second])) == true else {
            return .failure(Refusal(reason: "bad_signature", detail: "the signature does not match key \(parsed.header.kid ?? "(no kid)")"))
        }
        let claims = parsed.payload
        let leeway = TimeInterval(settings.leeway)
        guard let exp = claims.exp else { return .failure(Refusal(reason: "malformed", detail: "no exp claim")) }
        if exp.value.addingTimeInterval(leeway) < now { return .failure(Refusal(reason: "expired", detail: "expired at \(exp.value)")) }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-leeway) > now {
            return .failure(Refusal(reason: "not_yet_valid", detail: "valid from \(nbf.value)"))
        }
        if let issuer = settings.issuer, claims.iss?.value != issuer {
            return .failure(Refusal(reason: "wrong_issuer", detail: "issued by \(claims.iss?.value ?? "nobody")"))
        }
        if let audience = settings.audience, !(claims.aud?.value.contains(audience) ?? false) {
            return .failure(Refusal(reason: "wrong_audience", detail: "for \(claims.aud?.value ?? [])"))
        }
        return .success(claims.sub?.value)
    }

    // MARK: loading keys

    /// Loads the key set now and keeps it fresh: a file when its modification time changes, a URL
    /// every `urlRefresh`. The task holds the verifier weakly and ends with it.
    private func startRefreshing() {
        let interval: TimeAmount
        if case .file = settings.source { interval = Self.fileCheck } else { interval = Self.urlRefresh }
        Task { [weak self] in
            while let me = self {
                await me.refresh()
                try? await Task.sleep(nanoseconds: UInt64(interval.nanoseconds))
                if self == nil { return }
            }
        }
    }

    /// A URL's set fetched again soon (a token named a key not loaded: it may have rotated).
    private func fetchSoon() {
        guard case .url = settings.source else { return }
        let go = state.withLockedValue { s -> Bool in
            if s.loading { return false }
            if let last = s.lastFetch, last + Self.unknownKeyRefetch > .now() { return false }
            return true
        }
        if go { Task { [weak self] in await self?.refresh() } }
    }

    func refresh() async {
        guard state.withLockedValue({ s -> Bool in
            if s.loading { return false }
            s.loading = true
            return true
        }) else { return }
        defer { state.withLockedValue { $0.loading = false } }
        do {
            let data: Data
            switch settings.source {
            case .file(let path):
                let stamp = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
                if let stamp, stamp == state.withLockedValue({ $0.fileStamp }) { return }
                guard let contents = FileManager.default.contents(atPath: path) else { throw Refusal(reason: "no_keys", detail: "cannot read \(path)") }
                data = contents
                state.withLockedValue { $0.fileStamp = stamp }
            case .url(let url):
                state.withLockedValue { $0.lastFetch = .now() }
                var request = HTTPClientRequest(url: url.absoluteString)
                request.headers.add(name: "Accept", value: "application/json")
                // A fetch every few minutes gains nothing from a pooled connection, and a pooled one
                // may outlive the server it was made to.
                request.headers.add(name: "Connection", value: "close")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                guard response.status == .ok else { throw Refusal(reason: "no_keys", detail: "\(url) answered \(response.status.code)") }
                data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            }
            let jwks = try JSONDecoder().decode(JWKS.self, from: data)
            let loaded = await Self.algorithms(jwks)
            keys.withLockedValue { $0 = loaded }
            logger.info("JWKS loaded", metadata: ["source": "\(settings.source)", "keys": "\(jwks.keys.count)", "algorithms": "\(loaded.count)"])
        } catch {
            logger.warning("JWKS not loaded; the keys loaded before stay", metadata: ["source": "\(settings.source)", "error": "\(error)"])
        }
    }

    /// Every key of `jwks` as an algorithm per name it may sign with (`kid|alg`).
    static func algorithms(_ jwks: JWKS) async -> [String: any JWTAlgorithm] {
        var out: [String: any JWTAlgorithm] = [:]
        for jwk in jwks.keys {
            guard let kid = jwk.keyIdentifier else { continue }
            let names: [String]
            if let alg = jwk.algorithm {
                names = [alg.rawValue]
            } else if jwk.keyType == .rsa {
                names = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
            } else if jwk.keyType == .ecdsa {
                names = ["ES256", "ES384", "ES512"]
            } else if jwk.keyType == .octetKeyPair {
                names = ["EdDSA"]
            } else {
                continue
            }
            for name in names {
                // A collection per algorithm: jwt-kit keeps the first signer it made for a key.
                let collection = JWTKeyCollection()
                guard (try? await collection.add(jwk: jwk)) != nil, let algorithm = try? await collection.getKey(for: kid, alg: name), algorithm.name == name else { continue }
                out["\(kid.string)|\(name)"] = algorithm
            }
        }
        return out
    }
}
