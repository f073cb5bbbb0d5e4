import Foundation
import Shared

/// A tunnel's bandwidth: `bytesPerSecond` on average over all its connections and both
/// directions, with up to `burst` bytes at once after a quiet spell.
///
/// Written as frp's `bandwidthLimit` is, with an optional `/s`:
/// - bytes: `B`, `KB`, `MB`, `GB` are binary multiples (1024, 1024², 1024³), as frp reads them;
///   `KiB`, `MiB`, `GiB` are accepted as the same; so `"512KB/s"` is 524 288 bytes per second and
///   `"10MB/s"` 10 485 760;
/// - bits: `bit`, `Kbit`, `Mbit`, `Gbit` are decimal (1000, 10⁶, 10⁹ bits), as link speeds and
///   `tc` count them; so `"1Mbit/s"` is 125 000 bytes per second.
/// A number may have a fraction (`"1.5MB/s"`). Lower-case `mb`/`kb`, which could be bits or bytes,
/// are refused rather than guessed.
///
/// The burst defaults to a tenth of a second at the rate, at least 64 KiB: less than one socket
/// read would make every read wait, and much more lets a fresh connection run far over the rate.
public struct BandwidthLimit: Sendable, Hashable, CustomStringConvertible {
    public var bytesPerSecond: Int
    public var burst: Int

    /// The smallest default burst: one full socket read.
    public static let minimumDefaultBurst = 64 * 1024

    public init(bytesPerSecond: Int, burst: Int? = nil) {
        self.bytesPerSecond = max(1, bytesPerSecond)
        self.burst = max(1, burst ?? max(bytesPerSecond / 10, Self.minimumDefaultBurst))
    }

    /// Parses a rate such as `"10MB/s"` and an optional burst, a size such as `"256KB"`; a failure
    /// names `path` (the burst's as `<path>.burst`).
    public init(parsing rate: String, burst: String? = nil, path: String) throws {
        var text = rate.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix("/s") { text.removeLast(2) }
        guard let perSecond = Self.bytes(text), perSecond >= 1 else {
            throw ConfigError(path: path, reason: "'\(rate)' is not a bandwidth such as 10MB/s, 512KB/s or 1Mbit/s (KB, MB, GB are 1024 multiples; Kbit, Mbit, Gbit are 1000 multiples of bits)")
        }
        var burstBytes: Int?
        if let burst {
            guard let b = Self.bytes(burst.trimmingCharacters(in: .whitespaces)), b >= 1 else {
                throw ConfigError(path: "\(path).burst", reason: "'\(burst)' is not a size such as 256KB or 1MB")
            }
            burstBytes = b
        }
        self.init(bytesPerSecond: perSecond, burst: burstBytes)
    }

    /// Bytes in `text`: a number and a unit (none means bytes); nil when it is not one.
    static func bytes(_ text: String) -> Int? {
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = text.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, let value = Double(number), value.isFinite else { return nil }
        let multiple: Double
        switch unit {
        case "", "B": multiple = 1
        case "KB", "KiB": multiple = 1024
        case "MB", "MiB": multiple = 1024 * 1024
        case "GB", "GiB": multiple = 1024 * 1024 * 1024
        case "bit": multiple = 1.0 / 8
        case "Kbit", "kbit": multiple = 1000.0 / 8
        case "Mbit": multiple = 1_000_000.0 / 8
        case "Gbit": multiple = 1_000_000_000.0 / 8
        default: return nil
        }
        let bytes = (value * multiple).rounded()
        // Far beyond any link, and far from Int's edge.
        guard bytes < Double(1 << 50) else { return nil }
        return Int(bytes)
    }

    public var description: String { "\(bytesPerSecond) B/s burst \(burst) B" }
}
