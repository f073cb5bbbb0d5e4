import Foundation
import SwiftASN1
import X509

/// An issued certificate: the chain as the CA sent it and what a certificate manager needs to decide
/// when to renew.
public struct ACMECertificate: Sendable, Hashable {
    /// The chain in PEM, leaf first (RFC 8555 §7.4.2 `application/pem-certificate-chain`).
    public var chainPEM: String
    /// The parsed chain, leaf first.
    public var chain: [Certificate]
    public var names: [String]
    /// The order URL, needed to relate a renewal to the old order and for diagnostics.
    public var orderURL: String
    /// A window from ARI, when the caller fetched one; it overrides the default renewal time.
    public var renewalWindow: RenewalWindow?

    /// A chain longer than this is refused: real ones have two or three certificates.
    public static let maximumChainLength = 8

    public init(chainPEM: String, names: [String], orderURL: String, renewalWindow: RenewalWindow? = nil) throws {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: chainPEM)
        } catch {
            throw ACMEError("certificate chain is not valid PEM: \(error)")
        }
        guard !documents.isEmpty else { throw ACMEError("certificate chain is empty") }
        guard documents.count <= Self.maximumChainLength else {
            throw ACMEError("certificate chain has \(documents.count) certificates, more than \(Self.maximumChainLength)")
        }
        self.chain = try documents.map { document in
            guard document.discriminator == "CERTIFICATE" else {
                throw ACMEError("certificate chain contains a \(document.discriminator) block")
            }
            return try Certificate(derEncoded: document.derBytes)
        }
        self.chainPEM = chainPEM
        self.names = names
        self.orderURL = orderURL
        self.renewalWindow = renewalWindow
    }

    public var leaf: Certificate { chain[0] }
    public var notBefore: Date { leaf.notValidBefore }
    public var notAfter: Date { leaf.notValidAfter }

    /// When to renew: inside the ARI window when there is one, else a third of the lifetime before
    /// expiry (30 days for a 90-day certificate, the usual practice).
    public func renewalTime(now: Date) -> Date {
        if let renewalWindow { return renewalWindow.renewalTime(now: now) }
        let lifetime = notAfter.timeIntervalSince(notBefore)
        return notAfter.addingTimeInterval(-lifetime / 3)
    }
}
