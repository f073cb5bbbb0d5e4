import Foundation

/// How the relay gets certificates from an ACME CA (`--acme-*` flags).
public struct ACMESettings: Sendable {
    /// Let's Encrypt's production and staging directories.
    public static let letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"
    public static let letsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"

    public var email: String
    public var directoryURL: String
    /// Extra trust for the directory's own TLS (a private ACME server such as pebble or step-ca).
    public var caFile: String?
    /// lego's exec convention (`cmd present|cleanup <fqdn> <value>`), for DNS-01 (wildcards).
    public var dnsHook: String?
    /// The challenge tried first for a single name (the other is the fallback when the CA does
    /// not offer it): `http-01` on the HTTP entrypoint, or `tls-alpn-01` on the HTTPS port.
    public var preferTLSALPN: Bool
    /// Where the account key and the certificates live (inside the relay's state directory).
    public var directory: String
    /// The first retry of a failed order comes after this, doubling up to `maxRetryDelay`.
    public var retryDelay: Duration = .seconds(30)
    public var maxRetryDelay: Duration = .seconds(3600)
    /// Orders in flight at once (each for one name).
    public var maxConcurrentOrders = 4

    public init(email: String, directoryURL: String = ACMESettings.letsEncrypt, caFile: String? = nil, dnsHook: String? = nil, preferTLSALPN: Bool = false, stateDirectory: String) {
        self.email = email
        self.directoryURL = directoryURL
        self.caFile = caFile
        self.dnsHook = dnsHook
        self.preferTLSALPN = preferTLSALPN
        // One folder per CA, so certificates and accounts of staging and production never mix.
        let host = URL(string: directoryURL)?.host ?? "acme"
        let digest = directoryURL.utf8.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 }
        self.directory = stateDirectory + "/acme/\(host)-\(String(digest, radix: 16))"
    }

    /// Whether the relay should order a certificate for `name` at all: a DNS name with at least
    /// two labels (a CA refuses single labels and IP addresses), and a wildcard only when a DNS
    /// hook can answer its DNS-01 challenge.
    public func orders(_ name: String) -> Bool {
        let n = HostTable<String>.normalize(name)
        var base = n
        if n.hasPrefix("*.") {
            guard dnsHook != nil else { return false }
            base = String(n.dropFirst(2))
        } else if n.hasPrefix(".") {
            return false
        }
        let labels = base.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 }) else { return false }
        guard base.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else { return false }
        return !(labels.last!.allSatisfy(\.isNumber))  // an IPv4 address
    }
}
