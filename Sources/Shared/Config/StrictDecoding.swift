/// A coding key for any string, to list the keys a YAML mapping really has.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// Refuses keys a config section does not define: a typo must not silently mean "default".
public func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: Decoder, _ keys: K.Type) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    let known = Set(K.allCases.map(\.stringValue))
    for key in container.allKeys where !known.contains(key.stringValue) {
        let path = ConfigPath.render(decoder.codingPath + [key])
        let hint = known.sorted().joined(separator: ", ")
        throw ConfigError(path: path, reason: "unknown key \"\(key.stringValue)\" (known here: \(hint))")
    }
}

/// Paths in GOST's notation: `services[0].handler.type`.
enum ConfigPath {
    static func render(_ path: [CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out.isEmpty ? "(top level)" : out
    }
}

/// A config that cannot run, with the path of the offending value. Refused before anything listens.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
