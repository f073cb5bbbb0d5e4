/// What the relay's public entrypoints need for HTTPS beyond the ingress rules: where the
/// certificates are, the relay's own names (for agents without ALPN), and the defaults a rule
/// does not override (`--redirect-https`, `--hsts-max-age`).
public struct HTTPSSettings: Sendable {
    public var certificates: CertificateStore
    /// Names agents dial the relay by (`--advertise` when it is a name).
    public var relayNames: Set<String>
    /// Answer plain HTTP with 308 to `https://` for every host the relay holds a certificate for.
    public var redirectHTTPS: Bool
    /// HSTS `max-age` on every response served over the relay's TLS; nil = no header.
    public var hstsMaxAge: Int?
    /// The HTTPS port (`--https-addr`), for redirects; nil: the port the request came in on.
    public var httpsPort: Int?
    /// HTTP-01 answers of the relay's ACME orders in flight.
    public var tokens = ACMEHTTPTokens()

    public init(certificates: CertificateStore = CertificateStore(), relayNames: Set<String> = [], redirectHTTPS: Bool = false, hstsMaxAge: Int? = nil, httpsPort: Int? = nil) {
        self.certificates = certificates
        self.httpsPort = httpsPort
        self.relayNames = Set(relayNames.map { HostTable<String>.normalize($0) })
        self.redirectHTTPS = redirectHTTPS
        self.hstsMaxAge = hstsMaxAge
    }
}
