/// GOST's command-line URL forms, turned into the same `Config` the YAML gives:
/// `-L [handler[+listener]://][user:pass@][host]:port[/target,...][?key=value&...]`,
/// `-F [connector[+dialer]://][user:pass@]host:port[?key=value&...]`.
public enum URLSpec {
    /// Parsed pieces of one URL.
    struct Parts {
        var scheme: String?
        var user: String?
        var password: String?
        var address: String
        var path: String?
        var query: [String: String]
    }

    /// Types that only exist as listeners/dialers, so `tls://` alone means "auto over TLS" (-L)
    /// or "http over TLS" (-F), as in GOST.
    static let transportOnly: Set<String> = ["tls"]

    /// `a+b` → (a, b); a transport alone (`tls`) → (default protocol, it); a protocol alone → (it, tcp).
    static func split(_ scheme: String?, protocol defaultProtocol: String, transport defaultTransport: String) -> (String, String) {
        guard let scheme else { return (defaultProtocol, defaultTransport) }
        let parts = scheme.split(separator: "+", maxSplits: 1).map(String.init)
        if parts.count == 2 { return (parts[0], parts[1]) }
        if transportOnly.contains(parts[0]) { return (defaultProtocol, parts[0]) }
        return (parts[0], defaultTransport)
    }

    /// `listeners`: the listener types' traits; a bare scheme naming a listener that is
    /// `namedByScheme` (`udp`, the agent's `rtcp`/`rudp`) picks it as the listener too.
    public static func service(_ text: String, index: Int, chain: String?, listeners: [String: ListenerTraits] = Registry.standard.listenerTraits) throws -> ServiceConfig {
        let path = "-L[\(index)]"
        let p = try parse(text, path: path)
        let (handler, transport) = split(p.scheme, protocol: "auto", transport: "tcp")
        let listener = p.scheme.flatMap { listeners[$0]?.namedByScheme == true ? $0 : nil } ?? transport
        var auth: Credentials?
        if let user = p.user { auth = Credentials(username: user, password: p.password ?? "") }
        var forwarder: ForwarderConfig?
        if let targets = p.path, !targets.isEmpty {
            let nodes = targets.split(separator: ",").enumerated().map { ForwardNodeConfig(name: "target-\($0.offset)", addr: String($0.element)) }
            forwarder = ForwarderConfig(nodes: nodes)
        }
        let metadata = p.query.isEmpty ? nil : Metadata(p.query)
        return ServiceConfig(
            name: "service-\(index)",
            addr: p.address,
            handler: HandlerConfig(type: handler, chain: chain, auth: auth, metadata: metadata),
            listener: ListenerConfig(type: listener, metadata: metadata),
            forwarder: forwarder)
    }

    public static func hop(_ text: String, index: Int) throws -> HopConfig {
        let path = "-F[\(index)]"
        let p = try parse(text, path: path)
        let (connector, dialer) = split(p.scheme, protocol: "http", transport: "tcp")
        guard !p.address.hasPrefix(":") else {
            throw ConfigError(path: path, reason: "a node needs a host: \"\(text)\"")
        }
        var auth: Credentials?
        if let user = p.user { auth = Credentials(username: user, password: p.password ?? "") }
        var tls: TLSConfig?
        if dialer == "tls" {
            tls = TLSText { p.query[$0] }?.config ?? TLSConfig()
        }
        let metadata = p.query.isEmpty ? nil : Metadata(p.query)
        let node = NodeConfig(
            name: "node-0", addr: p.address,
            connector: ConnectorConfig(type: connector, auth: auth, metadata: metadata),
            dialer: DialerConfig(type: dialer, tls: tls, metadata: metadata))
        return HopConfig(name: "hop-\(index)", nodes: [node])
    }

    /// The whole command line as one config: `-F` hops form `chain-0`, used by every `-L` service.
    public static func config(listen: [String], forward: [String], listeners: [String: ListenerTraits] = Registry.standard.listenerTraits) throws -> Config {
        var config = Config()
        var chainName: String?
        if !forward.isEmpty {
            let hops = try forward.enumerated().map { try hop($0.element, index: $0.offset) }
            config.chains = [ChainConfig(name: "chain-0", hops: hops)]
            chainName = "chain-0"
        }
        if !listen.isEmpty {
            config.services = try listen.enumerated().map { try service($0.element, index: $0.offset, chain: chainName, listeners: listeners) }
        }
        return config
    }

    static func parse(_ text: String, path: String) throws -> Parts {
        var rest = Substring(text)
        var scheme: String?
        if let r = rest.range(of: "://") {
            scheme = String(rest[..<r.lowerBound]).lowercased()
            rest = rest[r.upperBound...]
            guard let s = scheme, !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" }) else {
                throw ConfigError(path: path, reason: "bad scheme in \"\(text)\"")
            }
        }
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                // `key` alone is a flag (true); `key=` is an empty value, not a flag.
                query[percentDecode(String(kv[0]))] = kv.count > 1 ? percentDecode(String(kv[1])) : (pair.hasSuffix("=") ? "" : "true")
            }
            rest = rest[..<q]
        }
        var pathPart: String?
        // The authority ends at the first "/" after any userinfo.
        let authorityEnd: Substring.Index
        if let at = rest.lastIndex(of: "@") {
            authorityEnd = rest[at...].firstIndex(of: "/") ?? rest.endIndex
        } else {
            authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        }
        if authorityEnd < rest.endIndex {
            pathPart = String(rest[rest.index(after: authorityEnd)...])
        }
        var authority = rest[..<authorityEnd]
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            if let colon = info.firstIndex(of: ":") {
                user = percentDecode(String(info[..<colon]))
                password = percentDecode(String(info[info.index(after: colon)...]))
            } else {
                user = percentDecode(String(info))
            }
            authority = authority[authority.index(after: at)...]
        }
        let address = String(authority)
        do {
            _ = try HostPort(parsing: address)
        } catch {
            throw ConfigError(path: path, reason: "\(error) in \"\(text)\"")
        }
        return Parts(scheme: scheme, user: user, password: password, address: address, path: pathPart, query: query)
    }

    static func percentDecode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
