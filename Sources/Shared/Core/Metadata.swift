import NIOCore

/// Free-form options of a handler, listener, dialer or connector (GOST's `metadata` and URL query).
///
/// Values are kept as text, as they arrive from URLs, and read with typed accessors so each
/// implementation documents the keys it understands.
public struct Metadata: Sendable, Hashable, Codable {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    /// Any scalar value is accepted and kept as text (`bind: true`, `ttl: 30s`, `port: 80`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        var values: [String: String] = [:]
        for key in c.allKeys {
            values[key.stringValue] = try c.decode(LooseString.self, forKey: key).value
        }
        self.values = values
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        for (k, v) in values.sorted(by: { $0.key < $1.key }) {
            try c.encode(v, forKey: AnyKey(stringValue: k))
        }
    }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public var isEmpty: Bool { values.isEmpty }

    public func string(_ key: String) -> String? { values[key] }

    public func bool(_ key: String) -> Bool? {
        guard let v = values[key]?.lowercased() else { return nil }
        switch v {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: return nil
        }
    }

    public func int(_ key: String) -> Int? { values[key].flatMap { Int($0) } }

    /// A Go-style duration (`10s`, `1m30s`, `500ms`) or a number of seconds.
    public func duration(_ key: String) -> Duration? { values[key].flatMap { GoDuration.parse($0) } }
}

/// Parses Go duration strings, since GOST configs are written with them.
public enum GoDuration {
    /// `amount` as Go writes it, in the largest unit that keeps it whole (`75s`, `500ms`).
    public static func format(_ amount: TimeAmount) -> String {
        let ns = amount.nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }

    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let secs = Double(t) { return .milliseconds(Int64(secs * 1000)) }
        var total: Double = 0
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let n = Double(number) else { return false }
            let factor: Double
            switch unit {
            case "ns": factor = 1e-9
            case "us", "µs": factor = 1e-6
            case "ms": factor = 1e-3
            case "s": factor = 1
            case "m": factor = 60
            case "h": factor = 3600
            default: return false
            }
            total += n * factor
            number = ""
            unit = ""
            sawAny = true
            return true
        }
        for ch in t {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            }
        }
        if !number.isEmpty || !unit.isEmpty { guard flush() else { return nil } }
        guard sawAny else { return nil }
        return .nanoseconds(Int64(total * 1e9))
    }
}

extension TimeAmount {
    /// NIO's time type from Swift's, for configured durations.
    public init(_ duration: Duration) {
        let c = duration.components
        self = .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
