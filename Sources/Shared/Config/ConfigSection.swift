/// A top-level config section that a module outside the engine owns (the relay's `ingresses:`).
///
/// Why: the engine's model is GOST's services and chains; a section only the relay reads must not
/// live in the engine, yet it sits at the top of the same YAML file and must be decoded as
/// strictly as the rest. A binary lists the sections its modules contribute
/// (`Registry.configSections`); `ConfigLoader` decodes those keys with their types, refuses any
/// other unknown key with the list of the known ones, and `EngineBuilder` has each section
/// `validate()` itself before any service is built.
public protocol ConfigSection: Codable, Sendable, Equatable {
    /// The top-level key (`ingresses`).
    static var key: String { get }
    /// Checks what decoding cannot (unique names, complete entries), throwing a `ConfigError`
    /// whose path starts at `key`.
    func validate() throws
}

extension ConfigSection {
    public func validate() throws {}

    func isEqual(to other: any ConfigSection) -> Bool {
        (other as? Self) == self
    }

    func encode(into container: inout KeyedEncodingContainer<AnyKey>) throws {
        try container.encode(self, forKey: AnyKey(stringValue: Self.key))
    }

    static func decodeIfPresent(from container: KeyedDecodingContainer<AnyKey>) throws -> (any ConfigSection)? {
        try container.decodeIfPresent(Self.self, forKey: AnyKey(stringValue: key))
    }
}

/// The contributed sections a config holds, by key.
public struct ConfigSections: Sendable, Equatable {
    var values: [String: any ConfigSection] = [:]

    public init() {}

    public subscript<S: ConfigSection>(_ type: S.Type) -> S? {
        get { values[S.key] as? S }
        set { values[S.key] = newValue }
    }

    /// Puts `section` in place of any section with its key.
    public mutating func set(_ section: any ConfigSection) {
        values[type(of: section).key] = section
    }

    /// Every section, by key.
    public var all: [any ConfigSection] { values.keys.sorted().compactMap { values[$0] } }

    public static func == (a: ConfigSections, b: ConfigSections) -> Bool {
        a.values.count == b.values.count && a.values.allSatisfy { key, value in b.values[key].map { value.isEqual(to: $0) } ?? false }
    }
}

extension CodingUserInfoKey {
    /// The section types (`[any ConfigSection.Type]`) a config being decoded may hold.
    static let configSections = CodingUserInfoKey(rawValue: "tunnel.configSections")!
}
