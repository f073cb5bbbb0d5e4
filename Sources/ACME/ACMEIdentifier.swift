/// An identifier in an order or authorization (RFC 8555 §9.7.7); this client only issues for `dns`.
public struct ACMEIdentifier: Sendable, Hashable, Codable {
    public var type: String
    public var value: String

    public init(type: String = "dns", value: String) {
        self.type = type
        self.value = value
    }

    public static func dns(_ name: String) -> ACMEIdentifier {
        ACMEIdentifier(type: "dns", value: name)
    }
}
