/// Values by hostname pattern with GOST's matching: the exact host first, then `.host` (the apex
/// form), then each parent domain's wildcard. `*.example.org` and `.example.org` mean the same
/// wildcard, and `.example.com` also matches `example.com` itself.
///
/// Why generic: the ingress rules (host → tunnel), the rules' TLS and HTTP options, and the
/// certificates the HTTPS port serves are all looked up by the same name the same way.
public struct HostTable<Value: Sendable & Equatable>: Sendable, Equatable {
    private(set) var exact: [String: Value] = [:]
    private(set) var wildcard: [String: Value] = [:]

    public init() {}

    public mutating func set(_ pattern: String, to value: Value?) {
        let p = Self.normalize(pattern)
        if p.hasPrefix("*.") {
            wildcard[String(p.dropFirst(2))] = value
        } else if p.hasPrefix(".") {
            wildcard[String(p.dropFirst())] = value
        } else {
            exact[p] = value
        }
    }

    /// Drops every entry whose value `matches`.
    public mutating func removeAll(where matches: (Value) -> Bool) {
        exact = exact.filter { !matches($0.value) }
        wildcard = wildcard.filter { !matches($0.value) }
    }

    /// Every entry, by pattern; a wildcard is written `*.example.org`.
    public var entries: [(pattern: String, value: Value)] {
        (exact.map { ($0.key, $0.value) } + wildcard.map { ("*." + $0.key, $0.value) }).sorted { $0.0 < $1.0 }
    }

    /// The value for `host` (a port suffix is ignored), or nil.
    public func lookup(_ host: String) -> Value? {
        var h = Self.normalize(host)
        if let colon = h.lastIndex(of: ":"), !h.hasSuffix("]"), h.firstIndex(of: ":") == colon {
            h = String(h[..<colon])
        }
        if let value = exact[h] { return value }
        if let value = wildcard[h] { return value }  // `.example.com` covers the apex
        var rest = Substring(h)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let value = wildcard[String(rest)] { return value }
        }
        return nil
    }

    /// The value set for exactly this pattern (no wildcard matching).
    public func value(forPattern pattern: String) -> Value? {
        let p = Self.normalize(pattern)
        if p.hasPrefix("*.") { return wildcard[String(p.dropFirst(2))] }
        if p.hasPrefix(".") { return wildcard[String(p.dropFirst())] }
        return exact[p]
    }

    /// A `Host` value's name: normalized, without its port (`[v6]:port` keeps its brackets).
    static func hostName(_ host: String) -> String {
        var name = normalize(host)
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        return name
    }

    static func normalize(_ host: String) -> String {
        var h = host.lowercased()
        while h.hasSuffix(".") { h.removeLast() }
        return h
    }
}
