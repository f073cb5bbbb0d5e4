import Crypto
import Foundation
import X509

extension ACMEClient {
    /// Orders and downloads a certificate for `names` (RFC 8555 §7.4): one authorization per name,
    /// each answered with the challenge type the solver picks, then finalize with a CSR signed by
    /// `certificateKey`, then the chain. Wildcards (`*.example.com`) need a solver that does `dns-01`.
    ///
    /// Authorizations are handled one after the other: a wildcard and its base name share the same
    /// `_acme-challenge` TXT name, so presenting them concurrently could make a DNS hook overwrite one
    /// value with the other.
    public func issue(
        names: [String],
        certificateKey: P256.Signing.PrivateKey,
        solver: some ACMEChallengeSolver
    ) async throws -> ACMECertificate {
        guard !names.isEmpty else { throw ACMEError("an order needs at least one name") }
        guard names.count <= 100 else { throw ACMEError("an order may have at most 100 names") }
        let kid = try await requireAccount()
        let directory = try await directory()

        let request = ACMEOrder.Request(identifiers: names.map { ACMEIdentifier.dns($0) })
        let created = try await post(directory.newOrder, payload: Self.encode(request), signer: .kid(kid))
        guard let orderURL = created.headers.first(name: "Location"), !orderURL.isEmpty else {
            throw ACMEError("newOrder response has no Location header")
        }
        var order = try Self.decode(ACMEOrder.self, from: created, what: "newOrder")
        logger.info("ACME order", metadata: ["order": "\(orderURL)", "names": "\(names.joined(separator: ","))"])
        guard order.authorizations.count <= 100 else { throw ACMEError("order has too many authorizations") }

        for authorizationURL in order.authorizations {
            try await authorize(authorizationURL, kid: kid, solver: solver)
        }

        order = try await pollOrder(orderURL, kid: kid, until: [.ready, .valid])
        if order.status == .ready {
            let csr = try ACMECSR.der(names: names, key: certificateKey)
            let finalize = ACMEOrder.FinalizeRequest(csr: Base64URL.encode(csr))
            let response = try await post(order.finalize, payload: Self.encode(finalize), signer: .kid(kid))
            order = try Self.decode(ACMEOrder.self, from: response, what: "finalize")
            if order.status != .valid {
                order = try await pollOrder(orderURL, kid: kid, until: [.valid])
            }
        }
        guard let certificateURL = order.certificate else {
            throw ACMEError("order \(orderURL) is valid but has no certificate URL")
        }
        let download = try await postAsGet(certificateURL, kid: kid, accept: "application/pem-certificate-chain")
        let certificate = try ACMECertificate(
            chainPEM: String(decoding: download.body, as: UTF8.self),
            names: names,
            orderURL: orderURL
        )
        try Self.check(certificate, names: names, key: certificateKey)
        logger.info(
            "ACME certificate issued",
            metadata: ["order": "\(orderURL)", "notAfter": "\(certificate.notAfter)"]
        )
        return certificate
    }

    /// Answers one authorization: pick, present, respond, poll, and clean up whatever happened.
    private func authorize(_ url: String, kid: String, solver: some ACMEChallengeSolver) async throws {
        let response = try await postAsGet(url, kid: kid)
        let authorization = try Self.decode(ACMEAuthorization.self, from: response, what: "authorization")
        switch authorization.status {
        case .valid:
            return  // reused from an earlier order
        case .pending:
            break
        default:
            throw ACMEError("authorization for \(authorization.identifier.value) is \(authorization.status.rawValue)")
        }
        let wildcard = authorization.wildcard ?? false
        let offered = authorization.challenges.compactMap { ACMEChallenge.Kind(rawValue: $0.type) }
        guard let kind = solver.choose(from: offered, for: authorization.identifier.value, wildcard: wildcard) else {
            throw ACMEError(
                "no usable challenge for \(authorization.identifier.value) among "
                    + authorization.challenges.map(\.type).joined(separator: ", ")
            )
        }
        guard let offer = authorization.challenges.first(where: { $0.type == kind.rawValue }) else {
            throw ACMEError("solver chose \(kind.rawValue), which the server did not offer")
        }
        // The token ends up in a URL path and a file name or DNS value: it must be plain base64url.
        guard let token = offer.token, token.utf8.count <= 256, Base64URL.decode(token) != nil, !token.contains("=")
        else {
            throw ACMEError("challenge \(offer.url) has a missing or malformed token")
        }
        let challenge = ACMEChallenge(
            kind: kind,
            identifier: authorization.identifier.value,
            wildcard: wildcard,
            token: token,
            url: offer.url,
            accountKey: jwk
        )
        logger.debug(
            "ACME challenge",
            metadata: ["identifier": "\(challenge.identifier)", "type": "\(kind.rawValue)"]
        )
        do {
            try await solver.present(challenge)
            // §7.5.1: an empty JSON object tells the server the response is ready.
            _ = try await post(challenge.url, payload: Array("{}".utf8), signer: .kid(kid))
            try await pollAuthorization(url, kid: kid, challenge: challenge)
        } catch {
            await solver.cleanup(challenge)
            throw error
        }
        await solver.cleanup(challenge)
    }

    private func pollAuthorization(_ url: String, kid: String, challenge: ACMEChallenge) async throws {
        _ = try await poll(url, kid: kid, what: "authorization for \(challenge.identifier)") {
            (authorization: ACMEAuthorization) in
            switch authorization.status {
            case .valid:
                return true
            case .pending:
                return false
            default:
                let failed = authorization.challenges.first { $0.url == challenge.url }
                if let problem = failed?.error { throw problem }
                throw ACMEError(
                    "authorization for \(challenge.identifier) became \(authorization.status.rawValue)"
                )
            }
        }
    }

    private func pollOrder(_ url: String, kid: String, until wanted: Set<ACMEOrder.Status>) async throws -> ACMEOrder {
        try await poll(url, kid: kid, what: "order") { (order: ACMEOrder) in
            if wanted.contains(order.status) { return true }
            if order.status == .invalid {
                if let problem = order.error { throw problem }
                throw ACMEError("order \(url) became invalid")
            }
            return false
        }
    }

    /// POST-as-GET `url` until `isDone` says so, bounded by the polling policy, pausing as the
    /// server's `Retry-After` asks (capped).
    private func poll<T: Decodable & Sendable>(
        _ url: String,
        kid: String,
        what: String,
        isDone: (T) throws -> Bool
    ) async throws -> T {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        while true {
            attempt += 1
            let response = try await postAsGet(url, kid: kid)
            let value = try Self.decode(T.self, from: response, what: what)
            if try isDone(value) { return value }
            let retryAfter = ACMEPollingPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"), now: Date())
            guard let pause = polling.delay(afterAttempt: attempt, elapsed: clock.now - start, retryAfter: retryAfter)
            else {
                throw ACMEError("\(what) still not done after \(attempt) polls in \(clock.now - start)")
            }
            try await Task.sleep(for: pause)
        }
    }

    /// The leaf must carry our key and exactly the names we asked for; a CA (or a proxy) returning
    /// something else must not get that certificate installed.
    static func check(_ certificate: ACMECertificate, names: [String], key: P256.Signing.PrivateKey) throws {
        let leaf = certificate.leaf
        guard leaf.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw ACMEError("issued certificate does not carry the certificate key")
        }
        let sans = try leaf.extensions.subjectAlternativeNames ?? SubjectAlternativeNames()
        let dnsNames = Set(sans.compactMap { name -> String? in
            if case .dnsName(let value) = name { return value.lowercased() }
            return nil
        })
        let missing = names.filter { !dnsNames.contains($0.lowercased()) }
        guard missing.isEmpty else {
            throw ACMEError("issued certificate lacks the names \(missing.joined(separator: ", "))")
        }
    }
}
