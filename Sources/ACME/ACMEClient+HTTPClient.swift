import AsyncHTTPClient
import NIOSSL

extension ACMEClient {
    /// An HTTP client for talking to an ACME server: the system trust roots plus, for a private CA
    /// such as pebble or an internal step-ca (`--acme-ca-file`), the certificates in a PEM file.
    /// Redirects are refused: ACME never redirects and a signed POST must not be replayed elsewhere.
    /// The caller owns the client and shuts it down.
    public static func makeHTTPClient(extraTrustPEMFile: String? = nil) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let extraTrustPEMFile {
            tls.additionalTrustRoots = [.file(extraTrustPEMFile)]
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}
