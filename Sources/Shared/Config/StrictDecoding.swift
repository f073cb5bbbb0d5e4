import Yams

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

/// Strict decoding for every config type, in one place: a key a section does not define is
/// refused with its full path (a typo must not silently mean "default").
///
/// Why a wrapping `Decoder` rather than a check at the top of each type's `init(from:)`: the
/// check is the same for every section (compare the mapping's keys with the type's coding keys),
/// so written per type it was copied into every config type and a new one could forget it.
/// Wrapped around Yams' decoder, this one lets the compiler-synthesized `Decodable` conformances
/// do the decoding: whenever a type asks for `container(keyedBy: K.self)` and `K` is
/// `CaseIterable`, the keys the mapping really has are compared with `K.allCases` and the first
/// unknown one is refused. Every container and decoder it hands out is wrapped too, so values
/// nested in mappings, lists and optionals are decoded strictly at every level. Keys that are not
/// `CaseIterable` (`Metadata`'s free-form `AnyKey`, the `CodingKeys` Swift synthesizes) are not
/// checked: a type opts in by declaring `enum CodingKeys: String, CodingKey, CaseIterable`.
///
/// A type is strict only when decoded through this decoder: `ConfigLoader.decode` is the one
/// entry point every config file (the main config, the relay's tokens file) goes through.
struct StrictDecoder: Decoder {
    let inner: any Decoder

    init(_ inner: any Decoder) { self.inner = inner }

    var codingPath: [any CodingKey] { inner.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { inner.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if let known = Self.knownKeys(Key.self) { try Self.rejectUnknownKeys(inner, known: known) }
        return KeyedDecodingContainer(StrictKeyedContainer(inner: try inner.container(keyedBy: type)))
    }

    /// Refuses the first key of `decoder`'s mapping that is not in `known`, with its path and the
    /// known keys. For a level whose keys are known only at run time (`Config`'s sections).
    static func rejectUnknownKeys(_ decoder: any Decoder, known: Set<String>) throws {
        for key in try decoder.container(keyedBy: AnyKey.self).allKeys where !known.contains(key.stringValue) {
            let hint = known.sorted().joined(separator: ", ")
            throw ConfigError(path: ConfigPath.render(decoder.codingPath + [key]), reason: "unknown key \"\(key.stringValue)\" (known here: \(hint))")
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        StrictUnkeyedContainer(try inner.unkeyedContainer())
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        StrictSingleValueContainer(decoder: self, inner: try inner.singleValueContainer())
    }

    /// Decodes `type` from `decoder` (one of the wrapped decoder's) strictly. What Yams reads as a
    /// scalar (`String`, numbers, `Bool`, and `URL`, `Date`, `Data`, `Decimal`, `UUID`) has no keys
    /// to check and is handed to the wrapped decoder as it is: a URL's own `init(from:)` is not
    /// how Yams reads one.
    static func decode<T: Decodable>(_ type: T.Type, from decoder: any Decoder) throws -> T {
        if T.self is any ScalarConstructible.Type {
            return try decoder.singleValueContainer().decode(type)
        }
        return try T(from: StrictDecoder(decoder))
    }

    /// The names `Key` lists, or nil when it does not list them (it is not `CaseIterable`).
    private static func knownKeys<Key: CodingKey>(_: Key.Type) -> Set<String>? {
        guard let listed = Key.self as? any (CodingKey & CaseIterable).Type else { return nil }
        return names(of: listed)
    }

    private static func names<Key: CodingKey & CaseIterable>(of _: Key.Type) -> Set<String> {
        Set(Key.allCases.map(\.stringValue))
    }
}

/// Coding keys some of whose values are text whatever scalar YAML wrote there (`addr: 8080`,
/// `password: 1234`, `failTimeout: 30`), read as `LooseString`: a mapping or a list there is
/// refused as "expected text". Declared by the keys, like `CaseIterable` for strictness, so the
/// field keeps its plain `String` (or `String?`) type and its synthesized decoding.
protocol TextKeys: CodingKey {
    /// Whether this key's value is text.
    var isText: Bool { get }
}

/// What the wrapped decoder's containers are asked for in place of a `T`, so that the value
/// under a key or at an index is decoded strictly while the wrapped decoder keeps its own
/// handling of missing keys, nulls and coding paths (and so its own error messages).
struct StrictlyDecoded<T: Decodable>: Decodable {
    let value: T

    init(from decoder: any Decoder) throws {
        value = try StrictDecoder.decode(T.self, from: decoder)
    }
}

/// A mapping of the wrapped decoder, whose values are decoded strictly.
struct StrictKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let inner: KeyedDecodingContainer<Key>

    var codingPath: [any CodingKey] { inner.codingPath }
    var allKeys: [Key] { inner.allKeys }
    func contains(_ key: Key) -> Bool { inner.contains(key) }
    func decodeNil(forKey key: Key) throws -> Bool { try inner.decodeNil(forKey: key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        // A `String` reaches here rather than below when decoded generically (an `@OrDefault` one).
        if T.self == String.self, let text = try decodeText(forKey: key) as? T { return text }
        return try inner.decode(StrictlyDecoded<T>.self, forKey: key).value
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try decodeText(forKey: key) ?? inner.decode(type, forKey: key)
    }

    /// The value under `key` read as `LooseString` when `Key` says it is text (`TextKeys`); nil
    /// for any other key, whose `String` the wrapped decoder reads its own way.
    private func decodeText(forKey key: Key) throws -> String? {
        guard (key as? any TextKeys)?.isText == true else { return nil }
        return try inner.decode(LooseString.self, forKey: key).value
    }

    // The other scalars, as the protocol asks for each: nothing to check, the wrapped decoder reads them.
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try inner.decode(type, forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try inner.decode(type, forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try inner.decode(type, forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try inner.decode(type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try inner.decode(type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try inner.decode(type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try inner.decode(type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try inner.decode(type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try inner.decode(type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try inner.decode(type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try inner.decode(type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try inner.decode(type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try inner.decode(type, forKey: key) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try superDecoder(forKey: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try superDecoder(forKey: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { StrictDecoder(try inner.superDecoder()) }
    func superDecoder(forKey key: Key) throws -> any Decoder { StrictDecoder(try inner.superDecoder(forKey: key)) }
}

/// What a list and a single value have in common, so the two containers below share one
/// forwarding list: a scalar goes to the wrapped container as it is (so a type that reads
/// itself as one, `String(from:)`, ends there), anything else through `decodeValue`.
protocol StrictValueDecoding {
    /// The next (or the only) value, read by the wrapped container as it is.
    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T
    /// The next (or the only) value, decoded strictly.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T
}

extension StrictValueDecoding {
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }
    func decode(_ type: Bool.Type) throws -> Bool { try decodeScalar(type) }
    func decode(_ type: String.Type) throws -> String { try decodeScalar(type) }
    func decode(_ type: Double.Type) throws -> Double { try decodeScalar(type) }
    func decode(_ type: Float.Type) throws -> Float { try decodeScalar(type) }
    func decode(_ type: Int.Type) throws -> Int { try decodeScalar(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeScalar(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeScalar(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeScalar(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeScalar(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeScalar(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeScalar(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeScalar(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeScalar(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeScalar(type) }
}

/// A list of the wrapped decoder, whose elements are decoded strictly. A class, so that the
/// shared non-mutating `decode`s of `StrictValueDecoding` can advance the wrapped list (they
/// must be non-mutating to serve `SingleValueDecodingContainer` too).
final class StrictUnkeyedContainer: UnkeyedDecodingContainer, StrictValueDecoding {
    private var inner: any UnkeyedDecodingContainer

    init(_ inner: any UnkeyedDecodingContainer) { self.inner = inner }

    var codingPath: [any CodingKey] { inner.codingPath }
    var count: Int? { inner.count }
    var isAtEnd: Bool { inner.isAtEnd }
    var currentIndex: Int { inner.currentIndex }
    func decodeNil() throws -> Bool { try inner.decodeNil() }

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T { try inner.decode(type) }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        try inner.decode(StrictlyDecoded<T>.self).value
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try superDecoder().container(keyedBy: type)
    }

    func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try superDecoder().unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { StrictDecoder(try inner.superDecoder()) }
}

/// A single value of the wrapped decoder (what `Optional` and `OrDefault` read), decoded strictly.
struct StrictSingleValueContainer: SingleValueDecodingContainer, StrictValueDecoding {
    let decoder: StrictDecoder
    let inner: any SingleValueDecodingContainer

    var codingPath: [any CodingKey] { inner.codingPath }
    func decodeNil() -> Bool { inner.decodeNil() }

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T { try inner.decode(type) }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        try StrictDecoder.decode(type, from: decoder.inner)
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
