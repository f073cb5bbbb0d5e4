import Foundation
import Metrics
import NIOConcurrencyHelpers
import Operations

/// `tunnel_certificate_expiry_timestamp_seconds{name}` (gauge): when each certificate the relay
/// serves expires (notAfter, Unix seconds), by the pattern it is installed for (files, ACME);
/// `name` beyond the label bound is `other`. Alert on `... - time() < 14 * 86400`.
///
/// Why it keeps the dates: certificates given by flags are installed before `-metrics` installs
/// the backend, so `publish()` (at the relay's start, by `CertificateFiles`) sets them again.
final class CertificateExpiryMetrics: Sendable {
    static let label = "tunnel_certificate_expiry_timestamp_seconds"

    private let names = BoundedLabel()
    private let expiries = NIOLockedValueBox<[String: Date]>([:])

    /// `pattern` is served with a certificate that expires at `notAfter`.
    func installed(_ pattern: String, notAfter: Date) {
        let name = names.fold(pattern)
        expiries.withLockedValue { $0[name] = notAfter }
        Gauge(label: Self.label, dimensions: [("name", name)]).record(notAfter.timeIntervalSince1970)
    }

    /// `pattern` is no longer served: its series goes.
    func removed(_ pattern: String) {
        let name = names.fold(pattern)
        guard name != BoundedLabel.other, expiries.withLockedValue({ $0.removeValue(forKey: name) }) != nil else { return }
        Gauge(label: Self.label, dimensions: [("name", name)]).destroy()
    }

    /// Sets every known expiry again (into the backend installed since).
    func publish() {
        for (name, notAfter) in expiries.withLockedValue({ $0 }) {
            Gauge(label: Self.label, dimensions: [("name", name)]).record(notAfter.timeIntervalSince1970)
        }
    }
}
