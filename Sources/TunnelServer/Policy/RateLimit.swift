import Foundation
import NIOCore
import Shared

/// How many requests one visitor may make: `requests` per `per`, refilled evenly (a token bucket),
/// with up to `burst` at once after a quiet spell.
///
/// Written as `rate: "10/s"` (also `"600/m"`, `"100/h"`; the unit may be spelled `s`, `sec`,
/// `second`, `m`, `min`, `minute`, `h`, `hour`) and an optional `burst`. Without a burst, the burst
/// is `requests`: a visitor that has been quiet for a whole period may spend the period's allowance
/// at once (a page and its assets), then is held to the rate. A smaller burst smooths harder;
/// `burst: 1` spaces every request by `per / requests`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var requests: Int
    public var per: TimeAmount
    public var burst: Int

    /// `requests` and `burst` must be at least 1 and `per` positive (the parser checks; this
    /// clamps, so a limit can never divide by zero).
    public init(requests: Int, per: TimeAmount, burst: Int? = nil) {
        self.requests = max(1, requests)
        self.per = per.nanoseconds > 0 ? per : .seconds(1)
        self.burst = max(1, burst ?? requests)
    }

    /// Parses `"<n>/<unit>"` and an optional burst; a failure names `path`.
    public init(parsing rate: String, burst: Int? = nil, path: String) throws {
        let parts = rate.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let n = Int(parts[0]), n > 0 else {
            throw ConfigError(path: path, reason: "'\(rate)' is not a rate such as 10/s, 600/m or 100/h")
        }
        let per: TimeAmount
        switch parts[1].lowercased() {
        case "s", "sec", "second": per = .seconds(1)
        case "m", "min", "minute": per = .minutes(1)
        case "h", "hour": per = .hours(1)
        default: throw ConfigError(path: path, reason: "'\(rate)': the unit must be s, m or h")
        }
        if let burst, burst < 1 {
            throw ConfigError(path: path, reason: "the burst must be at least 1 (it is \(burst))")
        }
        self.init(requests: n, per: per, burst: burst)
    }

    public var description: String {
        let unit = per == .hours(1) ? "h" : per == .minutes(1) ? "m" : per == .seconds(1) ? "s" : "\(per)"
        return "\(requests)/\(unit) burst \(burst)"
    }
}
