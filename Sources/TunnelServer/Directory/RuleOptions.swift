/// How the relay treats the visitors of one hostname rule beyond routing them: whether TLS is
/// terminated here or passed through to the agent, a certificate from files, the HTTP → HTTPS
/// redirect and HSTS, and the protocol spoken to the local service for HTTP/2 visitors. Set per rule in the relay's config (`ingresses[].rules[]`); what a rule
/// leaves out falls back to the relay's flags (`HTTPSSettings`).
public struct RuleOptions: Sendable, Equatable {
    /// Who holds the TLS of a hostname.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// The relay, with the hostname's certificate; the agent gets plain HTTP.
        case terminate
        /// The local service behind the agent: the relay routes by SNI and never decrypts.
        case passthrough
    }

    /// What the relay speaks to the local service for visitors on HTTP/2 (`HTTP2Ingress`).
    public enum UpstreamProtocol: String, Sendable, Equatable, CaseIterable {
        /// HTTP/1.1: each h2 stream becomes one HTTP/1.1 request on its own Mux stream.
        case http1
        /// HTTP/2 with prior knowledge (h2c): each h2 stream goes on as an h2 stream, frames,
        /// trailers and all (gRPC).
        case h2c
    }

    /// nil: terminate when the relay has a certificate for the name, else pass through.
    public var tls: TLSMode?
    /// A certificate chain (PEM, leaf first) and its key for this hostname, reloaded when the
    /// files change.
    public var certFile: String?
    public var keyFile: String?
    /// Answer plain-HTTP requests with a 308 to `https://` (only while a certificate is served).
    public var redirectHTTPS: Bool?
    /// `Strict-Transport-Security: max-age=<seconds>` on responses served over HTTPS.
    public var hstsMaxAge: Int?
    /// nil: `http1`.
    public var upstream: UpstreamProtocol?
    /// What the rule's visitors must satisfy and how their requests are rewritten (`policy:`).
    var policy: VisitorPolicy?

    public init(
        tls: TLSMode? = nil, certFile: String? = nil, keyFile: String? = nil, redirectHTTPS: Bool? = nil, hstsMaxAge: Int? = nil,
        upstream: UpstreamProtocol? = nil
    ) {
        self.tls = tls
        self.certFile = certFile
        self.keyFile = keyFile
        self.redirectHTTPS = redirectHTTPS
        self.hstsMaxAge = hstsMaxAge
        self.upstream = upstream
    }

    /// Whether the rule says anything beyond its route.
    public var isEmpty: Bool { self == RuleOptions() }
}
