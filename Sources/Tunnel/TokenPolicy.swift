import Foundation
import NIOConcurrencyHelpers
import Shared
import Yams

/// What one agent token may claim. `nil` means anything of that kind.
public struct TokenRights: Sendable, Equatable {
    /// Tunnel IDs it may serve.
    public var tunnels: [String]?
    /// Hostname patterns it may claim (`app.example.com`, `*.example.com`, `.example.com`).
    public var hostnames: [String]?
    /// Port ranges it may ask the relay to open (rtcp/rudp).
    public var ports: [ClosedRange<Int>]?

    public static let all = TokenRights(tunnels: nil, hostnames: nil, ports: nil)

    public init(tunnels: [String]?, hostnames: [String]?, ports: [ClosedRange<Int>]?) {
        self.tunnels = tunnels
        self.hostnames = hostnames
        self.ports = ports
    }
}

/// The relay's one decision point for agents: which token may register which tunnels, hostnames and
/// ports. Checked on every registration; streams are only ever opened by the relay, towards sessions
/// that passed it. With no tokens at all the relay is open, as GOST's default is.
public struct TokenPolicy: Sendable {
    public var rights: [String: TokenRights]

    public init(rights: [String: TokenRights] = [:]) {
        self.rights = rights
    }

    public var isOpen: Bool { rights.isEmpty }

    /// nil when `hello` is allowed; otherwise the precise reason, for the relay's log only (the
    /// agent is told "unauthorized" either way, so nothing can be enumerated).
    public func refusal(for hello: TunnelMessages.Hello) -> String? {
        if hello.tunnels.isEmpty { return "no tunnels claimed" }
        let r: TokenRights
        if isOpen {
            r = .all
        } else {
            guard let found = Self.lookup(hello.token, in: rights) else { return "unknown token" }
            r = found
        }
        for claim in hello.tunnels {
            if let allowed = r.tunnels, !allowed.contains(claim.id) && !allowed.contains("*") {
                return "tunnel \(claim.id) not allowed for this token"
            }
            for host in claim.hostnames ?? [] {
                if let patterns = r.hostnames, !patterns.contains(where: { Self.covers($0, host) }) {
                    return "hostname \(host) not allowed for this token"
                }
            }
            for port in (claim.ports ?? []) + (claim.udpPorts ?? []) {
                if let ranges = r.ports, !ranges.contains(where: { $0.contains(port) }) {
                    return "port \(port) not allowed for this token"
                }
            }
        }
        return nil
    }

    /// Constant-time token comparison, so response timing does not reveal a prefix.
    static func lookup(_ token: String, in rights: [String: TokenRights]) -> TokenRights? {
        var match: TokenRights?
        let given = Array(token.utf8)
        for (candidate, r) in rights {
            let c = Array(candidate.utf8)
            var diff = c.count ^ given.count
            for i in 0..<max(c.count, given.count) {
                diff |= Int((i < c.count ? c[i] : 0) ^ (i < given.count ? given[i] : 0))
            }
            if diff == 0 { match = r }
        }
        return match
    }

    /// Whether pattern `p` allows claiming `host` (itself a name or a wildcard pattern).
    static func covers(_ p: String, _ host: String) -> Bool {
        let pattern = Ingress.normalize(p)
        var claim = Ingress.normalize(host)
        if pattern == "*" { return true }
        if pattern == claim { return true }
        let suffix = pattern.hasPrefix("*.") ? String(pattern.dropFirst(2)) : pattern.hasPrefix(".") ? String(pattern.dropFirst()) : nil
        guard let suffix else { return false }
        if claim.hasPrefix("*.") { claim = String(claim.dropFirst(2)) } else if claim.hasPrefix(".") { claim = String(claim.dropFirst()) }
        return claim == suffix || claim.hasSuffix("." + suffix)
    }

    /// Reads a tokens file:
    /// ```yaml
    /// tokens:
    /// - token: s3cret
    ///   tunnels: ["*"]
    ///   hostnames: ["*.example.com"]
    ///   ports: ["20000-20100", "30000"]
    /// ```
    public static func load(path: String) throws -> TokenPolicy {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError(path: path, reason: "cannot read file") }
        struct File: Decodable {
            var tokens: [Entry]
            enum CodingKeys: String, CodingKey, CaseIterable { case tokens }
            init(from decoder: Decoder) throws {
                try rejectUnknownKeys(decoder, CodingKeys.self)
                tokens = try decoder.container(keyedBy: CodingKeys.self).decode([Entry].self, forKey: .tokens)
            }
        }
        struct Entry: Decodable {
            var token: String
            var tunnels: [String]?
            var hostnames: [String]?
            var ports: [String]?
            enum CodingKeys: String, CodingKey, CaseIterable { case token, tunnels, hostnames, ports }
            init(from decoder: Decoder) throws {
                try rejectUnknownKeys(decoder, CodingKeys.self)
                let c = try decoder.container(keyedBy: CodingKeys.self)
                token = try c.decode(String.self, forKey: .token)
                tunnels = try c.decodeIfPresent([String].self, forKey: .tunnels)
                hostnames = try c.decodeIfPresent([String].self, forKey: .hostnames)
                ports = try c.decodeIfPresent([String].self, forKey: .ports)
            }
        }
        let file: File
        do {
            file = try ConfigLoader.decode(File.self, from: String(decoding: data, as: UTF8.self), source: path)
        } catch let error as ConfigError {
            throw ConfigError(path: error.path == path ? path : "\(path): \(error.path)", reason: error.reason)
        }
        // No tokens would mean an open relay (GOST's default without auth): never by accident.
        guard !file.tokens.isEmpty else { throw ConfigError(path: "\(path): tokens", reason: "a tokens file needs at least one token") }
        var rights: [String: TokenRights] = [:]
        for (i, e) in file.tokens.enumerated() {
            guard !e.token.isEmpty else { throw ConfigError(path: "\(path): tokens[\(i)].token", reason: "empty token") }
            var ranges: [ClosedRange<Int>]?
            if let ports = e.ports {
                ranges = try ports.enumerated().map { j, text in
                    let parts = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard (parts.count == 1 || parts.count == 2), parts.allSatisfy({ (1...65535).contains($0) }), parts.first! <= parts.last! else {
                        throw ConfigError(path: "\(path): tokens[\(i)].ports[\(j)]", reason: "expected a port or low-high, got \"\(text)\"")
                    }
                    return parts.first!...parts.last!
                }
            }
            rights[e.token] = TokenRights(tunnels: e.tunnels, hostnames: e.hostnames, ports: ranges)
        }
        return TokenPolicy(rights: rights)
    }
}

/// Counts registration failures per source address and turns an address away for a while once it
/// has failed too often, so tokens cannot be guessed at line rate.
public final class FailureLimiter: Sendable {
    private let state = NIOLockedValueBox([String: (count: Int, since: NIODeadlineBox)]())
    public let maxFailures: Int
    public let window: Duration

    public init(maxFailures: Int = 5, window: Duration = .seconds(60)) {
        self.maxFailures = maxFailures
        self.window = window
    }

    public func isBlocked(_ address: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLockedValue { s in
            guard let entry = s[address] else { return false }
            if now - entry.since.instant > window {
                s[address] = nil
                return false
            }
            return entry.count >= maxFailures
        }
    }

    public func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        state.withLockedValue { s in
            if let entry = s[address], now - entry.since.instant <= window {
                s[address] = (entry.count + 1, entry.since)
            } else {
                if s.count > 10_000 { s.removeAll() }  // bounded: a flood of sources forgets old ones
                s[address] = (1, NIODeadlineBox(instant: now))
            }
        }
    }
}

/// A clock reading, named for the table above.
public struct NIODeadlineBox: Sendable {
    var instant: ContinuousClock.Instant
}
