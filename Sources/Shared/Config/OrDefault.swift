/// What a config field holds when its key is left out (or null): GOST's own default, so that
/// `name`, `nodes`, `hops` or `rules` may be omitted and a service without `handler` or
/// `listener` is `auto` over `tcp`.
///
/// Why a property wrapper: Swift's synthesized `init(from:)` only knows "required" (decode) and
/// "optional" (decodeIfPresent). With `@OrDefault` the field keeps its plain type and the type
/// keeps its synthesized, strict conformance (see `StrictDecoder`), instead of a hand-written
/// `init(from:)` that would decode every other field again just to add one `?? default`.
public protocol DefaultWhenMissing {
    /// The value a field of this type takes when its key is missing.
    static var whenMissing: Self { get }
}

extension String: DefaultWhenMissing {
    public static var whenMissing: String { "" }
}

extension Array: DefaultWhenMissing {
    public static var whenMissing: [Element] { [] }
}

/// A field that takes `Value.whenMissing` when its key is left out (see `DefaultWhenMissing`).
/// Encoded and compared as the bare value, so configs print (`-O yaml|json`) and compare as before.
@propertyWrapper
public struct OrDefault<Value: DefaultWhenMissing> {
    public var wrappedValue: Value

    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

extension OrDefault: Equatable where Value: Equatable {}
extension OrDefault: Hashable where Value: Hashable {}
extension OrDefault: Sendable where Value: Sendable {}

extension OrDefault: Decodable where Value: Decodable {
    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Value.self)
    }
}

extension OrDefault: Encodable where Value: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    /// What the synthesized `init(from:)` calls for an `@OrDefault` field (this overload is more
    /// specific than the generic `decode`): a missing or null key gives the default.
    public func decode<Value: Decodable>(_ type: OrDefault<Value>.Type, forKey key: Key) throws -> OrDefault<Value> {
        OrDefault(wrappedValue: try decodeIfPresent(Value.self, forKey: key) ?? .whenMissing)
    }
}
