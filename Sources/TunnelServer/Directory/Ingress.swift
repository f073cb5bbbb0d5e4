/// Hostname → tunnel ID rules, matched as `HostTable` does (exact, apex, parent wildcards).
public struct Ingress: Sendable, Equatable {
    private var table = HostTable<String>()

    public init() {}

    public init(rules: [(String, String)]) {
        for (host, id) in rules { set(host, to: id) }
    }

    public mutating func set(_ pattern: String, to tunnel: String) {
        table.set(pattern, to: tunnel)
    }

    /// Drops the rule for exactly `pattern`.
    public mutating func remove(pattern: String) {
        table.set(pattern, to: nil)
    }

    /// The tunnel exactly `pattern` names (no wildcard matching).
    public func tunnel(forPattern pattern: String) -> String? {
        table.value(forPattern: pattern)
    }

    public mutating func remove(tunnel: String) {
        table.removeAll { $0 == tunnel }
    }

    /// Every rule, by pattern; a wildcard is written `*.example.org`.
    public var rules: [(hostname: String, tunnel: String)] {
        table.entries.map { ($0.pattern, $0.value) }
    }

    /// The tunnel for `host` (a port suffix is ignored), or nil.
    public func lookup(_ host: String) -> String? {
        table.lookup(host)
    }

    static func normalize(_ host: String) -> String {
        HostTable<String>.normalize(host)
    }
}
