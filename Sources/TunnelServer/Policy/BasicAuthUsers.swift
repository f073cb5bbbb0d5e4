import Crypto
import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Shared

/// The users of a rule's HTTP basic auth (`basicAuth.users`): passwords stored as bcrypt hashes
/// (`$2a$`, `$2b$`, `$2y$`: what `htpasswd -nbB` writes) or, with a warning, in plain text.
///
/// Checking never blocks an event loop: bcrypt takes ~100 ms by design, so a hash is computed on
/// a thread pool (`check`) and its outcome cached, keyed by a SHA-256 of user and password (never
/// the password itself), for a few minutes; `quickCheck` answers at once from the cache and for
/// plain passwords (compared in constant time). The cache is bounded. An unknown user costs the
/// same work as a known one, so timing does not tell which users exist.
final class BasicAuthUsers: Sendable {
    enum Stored: Sendable, Equatable {
        case bcrypt(String)
        case plain([UInt8])
    }

    private let users: [String: Stored]
    /// Plain-text passwords found (for the relay's log).
    let warnings: [String]
    private let cache: NIOLockedValueBox<[SHA256Digest: (ok: Bool, until: NIODeadline)]>
    /// Entries the cache holds at most; when full, the expired go, else the whole cache.
    static let cacheLimit = 10_000
    static let goodFor = TimeAmount.minutes(5)
    static let badFor = TimeAmount.minutes(1)
    /// What an unknown user is compared against, so it costs what a known user does.
    private static let dummyHash = Bcrypt.hash("not a password of anyone", cost: 10)

    init(users: [String: String], path: String) throws {
        var stored: [String: Stored] = [:]
        var warnings: [String] = []
        for (user, value) in users.sorted(by: { $0.key < $1.key }) {
            guard !user.isEmpty, !user.contains(":") else { throw ConfigError(path: "\(path).\(user)", reason: "a user name cannot be empty or hold a colon") }
            if value.hasPrefix("$argon2") {
                throw ConfigError(path: "\(path).\(user)", reason: "argon2 hashes are not supported; use bcrypt (htpasswd -nbB \(user) <password>)")
            }
            if let hash = Self.bcrypt(value) {
                stored[user] = .bcrypt(hash)
            } else if value.hasPrefix("$2") {
                throw ConfigError(path: "\(path).\(user)", reason: "not a well-formed bcrypt hash (expected $2a$, $2b$ or $2y$, a cost and 53 characters)")
            } else {
                guard !value.isEmpty else { throw ConfigError(path: "\(path).\(user)", reason: "an empty password") }
                stored[user] = .plain(Array(value.utf8))
                warnings.append("\(path).\(user): a plain-text password; store a bcrypt hash instead (htpasswd -nbB \(user) <password>)")
            }
        }
        self.users = stored
        self.warnings = warnings
        self.cache = NIOLockedValueBox([:])
    }

    /// The hash as HummingbirdBcrypt checks it (`$2y$` is `$2b$` under another name), nil when
    /// `value` is not one.
    static func bcrypt(_ value: String) -> String? {
        let u = Array(value.utf8)
        guard u.count == 60, u[0] == UInt8(ascii: "$"), u[1] == UInt8(ascii: "2"), [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(u[2]),
            u[3] == UInt8(ascii: "$"), u[6] == UInt8(ascii: "$"), let cost = Int(String(decoding: u[4..<6], as: UTF8.self)), (4...31).contains(cost)
        else { return nil }
        return u[2] == UInt8(ascii: "y") ? "$2b" + value.dropFirst(3) : value
    }

    /// `Basic <base64(user:password)>` (scheme in any case), split at the first colon. On the
    /// bytes (asked for every request of a rule with basic auth).
    static func credentials(fromAuthorization value: String) -> (user: String, password: String)? {
        let u = Array(value.utf8)
        guard u.count > 6, u[5] == UInt8(ascii: " "), String(decoding: u[0..<5], as: UTF8.self).lowercased() == "basic" else { return nil }
        var a = 6
        var b = u.count
        while a < b, u[a] == UInt8(ascii: " ") { a += 1 }
        while b > a, u[b - 1] == UInt8(ascii: " ") { b -= 1 }
        guard let data = Data(base64Encoded: Data(u[a..<b])), let colon = data.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let user = String(decoding: data[data.startIndex..<colon], as: UTF8.self)
        let password = String(decoding: data[data.index(after: colon)...], as: UTF8.self)
        return (user, password)
    }

    /// The answer when it is known at once: plain passwords, and bcrypt outcomes cached; nil when
    /// a hash must be computed (`check`).
    func quickCheck(user: String, password: String, now: NIODeadline = .now()) -> Bool? {
        switch users[user] {
        case .plain(let expected)?:
            return ConstantTime.equal(expected, Array(password.utf8))
        case .bcrypt?, nil:
            let key = Self.key(user, password)
            return cache.withLockedValue { c in
                guard let hit = c[key], hit.until > now else { return nil }
                return hit.ok
            }
        }
    }

    /// Computes the answer on `pool` (bcrypt's cost is the point of it), caches it, and answers on
    /// `eventLoop`.
    func check(user: String, password: String, pool: NIOThreadPool, eventLoop: EventLoop) -> EventLoopFuture<Bool> {
        if let known = quickCheck(user: user, password: password) { return eventLoop.makeSucceededFuture(known) }
        let stored = users[user]
        return pool.runIfActive(eventLoop: eventLoop) {
            switch stored {
            case .bcrypt(let hash)?: return Bcrypt.verify(password, hash: hash)
            case .plain(let expected)?: return ConstantTime.equal(expected, Array(password.utf8))
            case nil:
                _ = Bcrypt.verify(password, hash: Self.dummyHash)
                return false
            }
        }.map { ok in
            self.remember(Self.key(user, password), ok: ok, now: .now())
            return ok
        }
    }

    private func remember(_ key: SHA256Digest, ok: Bool, now: NIODeadline) {
        cache.withLockedValue { c in
            if c.count >= Self.cacheLimit {
                c = c.filter { $0.value.until > now }
                if c.count >= Self.cacheLimit { c.removeAll(keepingCapacity: true) }
            }
            c[key] = (ok, now + (ok ? Self.goodFor : Self.badFor))
        }
    }

    private static func key(_ user: String, _ password: String) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: Array(user.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(password.utf8))
        return hasher.finalize()
    }
}
