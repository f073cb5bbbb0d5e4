import Foundation
import X509

/// A suggested renewal window from ACME Renewal Information (RFC 9773): the CA tells when it wants a
/// certificate renewed, e.g. earlier than usual ahead of a mass revocation.
public struct RenewalWindow: Sendable, Hashable {
    public var start: Date
    public var end: Date
    public var explanationURL: String?
    /// When to ask again, from the response's `Retry-After`.
    public var retryAfter: Date?

    public init(start: Date, end: Date, explanationURL: String? = nil, retryAfter: Date? = nil) {
        self.start = start
        self.end = end
        self.explanationURL = explanationURL
        self.retryAfter = retryAfter
    }

    /// A time to renew: uniformly random inside the part of the window not yet past (RFC 9773 §4.2
    /// asks clients to spread load this way); `now` when the window is over.
    public func renewalTime<G: RandomNumberGenerator>(now: Date, using generator: inout G) -> Date {
        let from = max(start, now)
        guard end > from else { return now }
        let span = end.timeIntervalSince(from)
        return from.addingTimeInterval(Double.random(in: 0..<span, using: &generator))
    }

    public func renewalTime(now: Date) -> Date {
        var generator = SystemRandomNumberGenerator()
        return renewalTime(now: now, using: &generator)
    }
}

/// The pure parts of ARI: the certificate identifier and the response document.
public enum RenewalInfo {
    /// Responses larger than this are refused; a real one is a few hundred bytes.
    public static let maximumResponseBytes = 64 * 1024

    /// The ARI certificate identifier (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(the
    /// serial number's DER INTEGER content bytes, leading zero included).
    public static func certificateID(for certificate: Certificate) throws -> String {
        guard let aki = try certificate.extensions.authorityKeyIdentifier, let keyID = aki.keyIdentifier else {
            throw ACMEError("certificate has no authority key identifier; cannot build an ARI certificate ID")
        }
        return Base64URL.encode(keyID) + "." + Base64URL.encode(derIntegerContent(certificate.serialNumber.bytes))
    }

    /// The content octets of the serial as a DER INTEGER: minimal, with a leading zero when the high
    /// bit is set (swift-certificates keeps the plain magnitude).
    static func derIntegerContent(_ magnitude: ArraySlice<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty { return [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }

    private struct Document: Decodable {
        struct Window: Decodable {
            var start: String
            var end: String
        }
        var suggestedWindow: Window
        var explanationURL: String?
    }

    /// Parses a renewalInfo response body; rejects a window whose end is not after its start (§4.2).
    public static func parseWindow(_ body: [UInt8], retryAfter: Date? = nil) throws -> RenewalWindow {
        guard body.count <= maximumResponseBytes else { throw ACMEError("renewalInfo response too large") }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(body))
        } catch {
            throw ACMEError("renewalInfo response is not a valid document: \(error)")
        }
        guard let start = parseDate(document.suggestedWindow.start), let end = parseDate(document.suggestedWindow.end)
        else { throw ACMEError("renewalInfo window has an unparsable date") }
        guard end > start else { throw ACMEError("renewalInfo window ends before it starts") }
        return RenewalWindow(start: start, end: end, explanationURL: document.explanationURL, retryAfter: retryAfter)
    }

    /// RFC 3339 timestamps, with or without fractional seconds.
    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
