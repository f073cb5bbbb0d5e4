import ACME
import Logging
import NIOSSL

/// Answers the relay's ACME challenges where its visitors come in: HTTP-01 on the HTTP
/// entrypoint (the token served by `ReservedRequests`), TLS-ALPN-01 on the HTTPS port (the
/// challenge certificate picked by `TLSRoute`), DNS-01 through the operator's hook (wildcards).
struct RelayChallengeSolver: ACMEChallengeSolver {
    var tokens: ACMEHTTPTokens
    var store: CertificateStore
    var dnsHook: DNSHook?
    var preferTLSALPN: Bool

    func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
        if wildcard { return dnsHook != nil && kinds.contains(.dns01) ? .dns01 : nil }
        let order: [ACMEChallenge.Kind] = preferTLSALPN ? [.tlsALPN01, .http01] : [.http01, .tlsALPN01]
        return order.first { kinds.contains($0) } ?? (dnsHook != nil && kinds.contains(.dns01) ? .dns01 : nil)
    }

    func present(_ challenge: ACMEChallenge) async throws {
        switch challenge.kind {
        case .http01:
            tokens.set(challenge.keyAuthorization, for: challenge.token)
        case .tlsALPN01:
            let (der, key) = try TLSALPNChallengeCertificate.make(for: challenge)
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: der, format: .der))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)))
            config.applicationProtocols = [TLSALPNChallengeCertificate.alpnProtocol]
            config.minimumTLSVersion = .tlsv12
            store.setChallenge(try NIOSSLContext(configuration: config), for: challenge.identifier)
        case .dns01:
            guard let dnsHook else { throw ACMEError("no --acme-dns-hook to answer dns-01 for \(challenge.identifier)") }
            try await dnsHook.present(challenge)
        }
    }

    func cleanup(_ challenge: ACMEChallenge) async {
        switch challenge.kind {
        case .http01: tokens.set(nil, for: challenge.token)
        case .tlsALPN01: store.setChallenge(nil, for: challenge.identifier)
        case .dns01: await dnsHook?.cleanup(challenge)
        }
    }
}
