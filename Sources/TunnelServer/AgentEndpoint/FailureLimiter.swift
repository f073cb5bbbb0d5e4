import Foundation
import NIOConcurrencyHelpers
import Shared
import Yams

/// Counts registration failures per source address and turns an address away for a while once it
/// has failed too often, so tokens cannot be guessed at line rate.
///
/// Agents that share an address with a guesser (one NAT, one office) must not be locked out with
/// it: a token that has registered from an address before is remembered as good there, and is
/// still admitted while the address is blocked. A guesser gains nothing from that: it would need
/// a good token already, and every other token is refused without being checked.
public final class FailureLimiter: Sendable {
    private struct State {
        var failures: [String: (count: Int, since: NIODeadlineBox)] = [:]
        /// Address → principals (token digests) that registered from it.
        var good: [String: Set<String>] = [:]
    }
    private let state = NIOLockedValueBox(State())
    public let maxFailures: Int
    public let window: Duration
    /// Bounds on both tables: a flood of sources forgets old entries rather than growing them.
    static let maxAddresses = 10_000
    static let maxGoodPerAddress = 64

    public init(maxFailures: Int = 5, window: Duration = .seconds(60)) {
        self.maxFailures = maxFailures
        self.window = window
    }

    public func isBlocked(_ address: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLockedValue { s in
            guard let entry = s.failures[address] else { return false }
            if now - entry.since.instant > window {
                s.failures[address] = nil
                return false
            }
            return entry.count >= maxFailures
        }
    }

    /// Whether `address` is blocked for a hello with the token known by `principal`: a token that
    /// registered from this address before is not.
    public func isBlocked(_ address: String, principal: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard isBlocked(address, now: now) else { return false }
        return !state.withLockedValue { $0.good[address]?.contains(principal) ?? false }
    }

    /// Whether any token has registered from `address` (a blocked address without one can be
    /// turned away before its TLS handshake).
    public func hasGoodTokens(_ address: String) -> Bool {
        state.withLockedValue { !($0.good[address]?.isEmpty ?? true) }
    }

    public func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        state.withLockedValue { s in
            if let entry = s.failures[address], now - entry.since.instant <= window {
                s.failures[address] = (entry.count + 1, entry.since)
            } else {
                if s.failures.count > Self.maxAddresses { s.failures.removeAll() }
                s.failures[address] = (1, NIODeadlineBox(instant: now))
            }
        }
    }

    /// A registration from `address` with the token known by `principal` succeeded.
    public func recordSuccess(_ address: String, principal: String) {
        state.withLockedValue { s in
            if s.good[address] == nil, s.good.count > Self.maxAddresses { s.good.removeAll() }
            if (s.good[address]?.count ?? 0) >= Self.maxGoodPerAddress { s.good[address] = [] }
            s.good[address, default: []].insert(principal)
        }
    }
}
