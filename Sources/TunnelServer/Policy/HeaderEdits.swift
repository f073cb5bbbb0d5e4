import Shared
import TunnelProtocol

/// Header edits of one direction of a rule (`requestHeaders` / `responseHeaders`), checked once
/// when the config is read and applied to every message: fields removed (by name, any case), then
/// fields set (every earlier value replaced) and added.
///
/// Why checked at load: a name that is not a token or a value with CR, LF or NUL would let a
/// config line inject a header or split a message; refused with its path, never sent.
struct HeaderEdits: Sendable, Equatable {
    struct Field: Sendable, Equatable {
        /// As written (HTTP/1 keeps the operator's case; h2 lowercases it).
        var name: String
        var value: String
    }

    /// Lowercased names whose fields are dropped (the removals and every set name).
    private(set) var removed: Set<String> = []
    /// Fields written after the message's own: the set ones, then the added ones.
    private(set) var fields: [Field] = []

    static let none = HeaderEdits()

    init() {}

    init(_ rules: VisitorPolicyConfig.HeaderRules?, path: String) throws {
        guard let rules else { return }
        for (i, name) in (rules.remove ?? []).enumerated() {
            try Self.check(name: name, path: "\(path).remove[\(i)]")
            removed.insert(name.lowercased())
        }
        for (name, value) in (rules.set ?? [:]).sorted(by: { $0.key < $1.key }) {
            try Self.check(name: name, path: "\(path).set.\(name)")
            try Self.check(value: value, path: "\(path).set.\(name)")
            removed.insert(name.lowercased())
            fields.append(Field(name: name, value: value))
        }
        for (name, value) in (rules.add ?? [:]).sorted(by: { $0.key < $1.key }) {
            try Self.check(name: name, path: "\(path).add.\(name)")
            try Self.check(value: value, path: "\(path).add.\(name)")
            fields.append(Field(name: name, value: value))
        }
    }

    var isEmpty: Bool { removed.isEmpty && fields.isEmpty }

    /// Drops fields named `name` too (a checked credential, a rewritten `Host`).
    mutating func remove(_ name: String) {
        removed.insert(name.lowercased())
    }

    /// Writes `field` after the message's own.
    mutating func append(_ field: Field) {
        fields.append(field)
    }

    /// These edits, then `later`'s (which win: what they set replaces what these set).
    func then(_ later: HeaderEdits) -> HeaderEdits {
        var out = self
        out.fields.removeAll { later.removed.contains($0.name.lowercased()) }
        out.removed.formUnion(later.removed)
        out.fields += later.fields
        return out
    }

    static func check(name: String, path: String) throws {
        let tchar = Set("!#$%&'*+-.^_`|~".utf8)
        guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || tchar.contains($0) }) else {
            throw ConfigError(path: path, reason: "\"\(name)\" is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)")
        }
        let reserved: Set<String> = ["content-length", "transfer-encoding", "connection", "upgrade", "te", "keep-alive"]
        guard !reserved.contains(name.lowercased()) else {
            throw ConfigError(path: path, reason: "\(name) frames the message or the connection: the relay does not let a rule change it")
        }
    }

    static func check(value: String, path: String) throws {
        guard value.utf8.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else {
            throw ConfigError(path: path, reason: "a header value cannot hold control characters (CR, LF, NUL)")
        }
    }
}
