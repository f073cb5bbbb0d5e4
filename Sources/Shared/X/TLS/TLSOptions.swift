/// TLS settings of a listener (certificate) or a dialer (verification).
public struct TLSOptions: Sendable, Hashable {
    public var certFile: String?
    public var keyFile: String?
    public var caFile: String?
    public var serverName: String?
    /// Verify the peer's certificate chain and name. GOST's default for dialers is not to.
    public var secure: Bool
    /// SHA-256 of the peer's certificate (hex): accept exactly that certificate, whoever signed it.
    public var pinSHA256: String?
    /// Refuse anything older than TLS 1.3 (the relay's agent endpoint); otherwise 1.2 is the floor.
    public var requireTLS13 = false
    /// ALPN protocol IDs offered (dialer) or accepted (listener), most preferred first; empty = no
    /// ALPN. The relay's agent endpoint and its agents name theirs, so one port 443 can tell an
    /// agent's ClientHello from a visitor's.
    public var applicationProtocols: [String] = []

    public init(certFile: String? = nil, keyFile: String? = nil, caFile: String? = nil, serverName: String? = nil, secure: Bool = false, pinSHA256: String? = nil) {
        self.pinSHA256 = pinSHA256
        self.certFile = certFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.serverName = serverName
        self.secure = secure
    }
}

/// TLS settings written as text: a component's `metadata` or a URL's query
/// (`tls://host:443?serverName=x&secure=true`). This is the one reader of those keys, so the
/// aliases and the spelling of booleans are the same wherever TLS is configured that way; the
/// YAML `tls:` section (`TLSConfig`) is the structured form of the same settings.
public struct TLSText: MetadataOptions, Equatable {
    /// GOST's keys, with its short aliases (`cert`, `key`, `ca`).
    public static let metadataKeys: Set<String> = ["certFile", "keyFile", "caFile", "serverName", "secure", "cert", "key", "ca"]

    public var certFile: String?
    public var keyFile: String?
    public var caFile: String?
    public var serverName: String?
    /// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, as `Metadata.bool` reads them.
    public var secure: Bool?

    /// The settings among `value`'s keys, or nil when none of the keys is there (so "no TLS
    /// settings" stays distinguishable from "TLS with defaults").
    public init?(_ value: (String) -> String?) {
        guard Self.metadataKeys.contains(where: { value($0) != nil }) else { return nil }
        certFile = value("certFile") ?? value("cert")
        keyFile = value("keyFile") ?? value("key")
        caFile = value("caFile") ?? value("ca")
        serverName = value("serverName")
        secure = value("secure").flatMap { Metadata(["secure": $0]).bool("secure") }
    }

    /// The settings in `metadata`, if it has any.
    public init?(metadata: Metadata?) {
        guard let metadata else { return nil }
        self.init { metadata[$0] }
    }

    /// The structured (`tls:` section) form, for configs printed with `-O`.
    public var config: TLSConfig {
        TLSConfig(certFile: certFile, keyFile: keyFile, caFile: caFile, serverName: serverName, secure: secure)
    }

    /// `base` with every setting given here replacing its own.
    public func applied(to base: TLSOptions) -> TLSOptions {
        var o = base
        if let certFile { o.certFile = certFile }
        if let keyFile { o.keyFile = keyFile }
        if let caFile { o.caFile = caFile }
        if let serverName { o.serverName = serverName }
        if let secure { o.secure = secure }
        return o
    }
}
