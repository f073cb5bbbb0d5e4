import NIOConcurrencyHelpers
import NIOSSL

/// The certificates the relay terminates TLS with, by hostname pattern, and the short-lived
/// TLS-ALPN-01 challenge certificates of ACME orders in flight.
///
/// Why one store: certificates come from three places (a rule's files, ACME, later a cluster) and
/// the HTTPS port must pick one per ClientHello without knowing which. Lookup is `HostTable`'s:
/// exact name first, then the wildcard. Installing replaces the context new handshakes get;
/// connections already up keep the one they started with, so a renewal drops nothing.
public final class CertificateStore: Sendable {
    private struct State {
        var served = HostTable<Entry>()
        var challenges: [String: NIOSSLContext] = [:]
    }

    /// One installed certificate; equal when it is the same installation.
    struct Entry: Sendable, Equatable {
        let id: Int
        let certificate: ServingCertificate
        static func == (a: Entry, b: Entry) -> Bool { a.id == b.id }
    }

    private let state = NIOLockedValueBox(State())
    private let nextID = NIOLockedValueBox(0)
    /// The served certificates' expiry, for Prometheus.
    let expiry = CertificateExpiryMetrics()

    public init() {}

    /// Serves `certificate` for each of `patterns` (exact names or `*.x` wildcards).
    public func install(_ certificate: ServingCertificate, for patterns: [String]) {
        let id = nextID.withLockedValue { n in
            n += 1
            return n
        }
        state.withLockedValue { s in
            for p in patterns { s.served.set(p, to: Entry(id: id, certificate: certificate)) }
        }
        for p in patterns { expiry.installed(p, notAfter: certificate.notAfter) }
    }

    public func remove(_ pattern: String) {
        state.withLockedValue { $0.served.set(pattern, to: nil) }
        expiry.removed(pattern)
    }

    /// The certificate for a ClientHello's server name, nil when none.
    public func certificate(forServerName name: String) -> ServingCertificate? {
        state.withLockedValue { $0.served.lookup(name)?.certificate }
    }

    /// The certificate installed for exactly `pattern` (the ACME manager's own bookkeeping).
    public func certificate(forPattern pattern: String) -> ServingCertificate? {
        state.withLockedValue { $0.served.value(forPattern: pattern)?.certificate }
    }

    /// Sets (or with nil clears) the TLS-ALPN-01 challenge certificate of `name`.
    public func setChallenge(_ context: NIOSSLContext?, for name: String) {
        let key = HostTable<String>.normalize(name)
        state.withLockedValue { $0.challenges[key] = context }
    }

    /// The TLS-ALPN-01 challenge context for `name`, while an order is being validated.
    public func challenge(for name: String) -> NIOSSLContext? {
        let key = HostTable<String>.normalize(name)
        return state.withLockedValue { $0.challenges[key] }
    }
}
