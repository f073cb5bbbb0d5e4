/// Hostname → tunnel ID rules with GOST's matching: the exact host first, then `.host` (the apex
/// form), then each parent domain's wildcard. `*.example.org` and `.example.org` mean the same
/// wildcard, and `.example.com` also matches `example.com` itself.
public struct Ingress: Sendable, Equatable {
    private var exact: [String: String] = [:]
    private var wildcard: [String: String] = [:]

    public init() {}

    public init(rules: [(String, String)]) {
        for (host, id) in rules { set(host, to: id) }
    }

    public mutating func set(_ pattern: String, to tunnel: String) {
        let p = Self.normalize(pattern)
        if p.hasPrefix("*.") {
            wildcard[String(p.dropFirst(2))] = tunnel
        } else if p.hasPrefix(".") {
            wildcard[String(p.dropFirst())] = tunnel
        } else {
            exact[p] = tunnel
        }
    }

    public mutating func remove(tunnel: String) {
        exact = exact.filter { $0.value != tunnel }
        wildcard = wildcard.filter { $0.value != tunnel }
    }

    /// Every rule, by pattern; a wildcard is written `*.example.org`.
    public var rules: [(hostname: String, tunnel: String)] {
        (exact.map { ($0.key, $0.value) } + wildcard.map { ("*." + $0.key, $0.value) }).sorted { $0.0 < $1.0 }
    }

    /// The tunnel for `host` (a port suffix is ignored), or nil.
    public func lookup(_ host: String) -> String? {
        var h = Self.normalize(host)
        if let colon = h.lastIndex(of: ":"), !h.hasSuffix("]"), h.firstIndex(of: ":") == colon {
            h = String(h[..<colon])
        }
        if let id = exact[h] { return id }
        if let id = wildcard[h] { return id }  // `.example.com` covers the apex
        var rest = Substring(h)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let id = wildcard[String(rest)] { return id }
        }
        return nil
    }

    static func normalize(_ host: String) -> String {
        var h = host.lowercased()
        while h.hasSuffix(".") { h.removeLast() }
        return h
    }
}
