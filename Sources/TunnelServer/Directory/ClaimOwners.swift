import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Shared
import TunnelProtocol

/// Who holds each tunnel ID, hostname pattern and relay port: the first principal (a token, known
/// by its digest; a SOCKS5 user; the relay operator's own keys together) to claim one keeps it for
/// as long as that principal exists, whether or not its agents are online. Without this a token
/// allowed `"*"` could register another tenant's tunnel (IDs derived from hostnames are
/// computable), re-point its hostname at a tunnel of its own, or squat its rtcp port in the gap of
/// a reconnect or a relay restart, and take its traffic.
///
/// A claim the operator granted by name (the tunnel ID, the hostname or the single port written
/// in the token's rights, not reached through `"*"` or a range) is the operator's decision: it is
/// never refused here, so two tokens named for one tunnel share it (a token rotation, GOST's
/// `tokens=a,b`).
///
/// The table holds no secret and is kept in the relay's state directory (`claims.json`) across
/// restarts. An entry whose principal is no longer configured is void: removing a token from the
/// tokens file frees its claims (and void entries are dropped when the table fills up).
public final class ClaimOwners: Sendable {
    struct Table: Codable, Equatable {
        /// Tunnel ID → principal.
        var tunnels: [String: String] = [:]
        /// `tcp/2222`, `udp/5353` → principal.
        var ports: [String: String] = [:]
        /// Hostname pattern (`app.example.com`, `*.example.com`) → principal: a later claim of
        /// the same name would otherwise re-point it at the claimant's tunnel.
        var hostnames: [String: String] = [:]

        init() {}

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tunnels = try c.decodeIfPresent([String: String].self, forKey: .tunnels) ?? [:]
            ports = try c.decodeIfPresent([String: String].self, forKey: .ports) ?? [:]
            hostnames = try c.decodeIfPresent([String: String].self, forKey: .hostnames) ?? [:]
        }

        var count: Int { tunnels.count + ports.count + hostnames.count }

        subscript(kind: Kind) -> [String: String] {
            get {
                switch kind {
                case .tunnel: return tunnels
                case .port: return ports
                case .hostname: return hostnames
                }
            }
            set {
                switch kind {
                case .tunnel: tunnels = newValue
                case .port: ports = newValue
                case .hostname: hostnames = newValue
                }
            }
        }
    }

    /// What is claimed.
    public enum Kind: Sendable { case tunnel, port, hostname }

    /// One thing a hello claims: its kind, its key (`tcp/2222`, a normalized hostname pattern), and
    /// whether the operator granted it by name (then no other holder refuses it).
    public struct Item: Sendable, Equatable {
        public var kind: Kind
        public var key: String
        public var byName: Bool

        public init(_ kind: Kind, _ key: String, byName: Bool = false) {
            self.kind = kind
            self.key = kind == .hostname ? ClaimOwners.hostKey(key) : key
            self.byName = byName
        }
    }

    private struct State {
        var table = Table()
        /// Entries per principal (derived from the table): each principal gets a quota, so one
        /// token cannot fill the table for everyone.
        var held: [String: Int] = [:]
        /// Principals that are configured now; nil until the relay says (then all count).
        var live: Set<String>?
    }

    private let state: NIOLockedValueBox<State>
    /// Where the table is kept; nil keeps it in memory only.
    public let file: String?
    /// The most entries in all, and per principal.
    public static let maxEntries = 100_000
    public static let maxPerPrincipal = 10_000
    private let writing = NIOLock()

    /// Reads `file` if it exists (a damaged file is an error: silently forgetting owners would hand
    /// their tunnels to whoever asks first).
    public init(file: String? = nil) throws {
        self.file = file
        var s = State()
        if let file, let data = FileManager.default.contents(atPath: file) {
            do {
                s.table = try JSONDecoder().decode(Table.self, from: data)
            } catch {
                throw ConfigError(path: file, reason: "cannot read the claims table: \(error)")
            }
        }
        for kind in [Kind.tunnel, .port, .hostname] {
            for owner in s.table[kind].values { s.held[owner, default: 0] += 1 }
        }
        self.state = NIOLockedValueBox(s)
    }

    /// An in-memory table (tests, a relay without a state directory).
    public convenience init() {
        // Without a file there is nothing to read, so this cannot fail.
        try! self.init(file: nil)
    }

    /// The name a token is recorded under: its SHA-256, hex, truncated to 128 bits.
    public static func principal(of token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Adds configured principals (every service's tokens, SOCKS5 users): an owner outside the
    /// set is void. Until the first call every recorded owner counts.
    public func addLive(_ principals: Set<String>) {
        state.withLockedValue { s in s.live = (s.live ?? []).union(principals) }
    }

    /// A reload replaced the tokens: `gone` (principals of the old file that the new one lacks)
    /// hold nothing any more, so their tunnels and names are free for the tokens in force.
    public func removeLive(_ gone: Set<String>) {
        state.withLockedValue { s in s.live = s.live?.subtracting(gone) }
    }

    /// The key a hostname pattern is recorded under: `.x` and `*.x` are one wildcard.
    static func hostKey(_ pattern: String) -> String {
        let p = Ingress.normalize(pattern)
        return p.hasPrefix(".") ? "*" + p : p
    }

    /// The wildcards that match every name `key` matches, itself excluded: for `a.example.com`,
    /// `*.a.example.com` (which covers the apex), `*.example.com` and `*.com`.
    static func coveringWildcards(_ key: String) -> [String] {
        let isWildcard = key.hasPrefix("*.")
        var base = Substring(isWildcard ? key.dropFirst(2) : Substring(key))
        var out: [String] = isWildcard ? [] : ["*." + base]
        while let dot = base.firstIndex(of: ".") {
            base = base[base.index(after: dot)...]
            out.append("*." + base)
        }
        return out
    }

    /// Checks `items` against the table and, when none is held by another live principal, records
    /// `principal` as the owner of those nobody holds. nil on success, else the precise reason.
    /// Looks up without copying the table; writes (and saves) only when something is new.
    public func claim(_ items: [Item], by principal: String) -> String? {
        let (reason, changed) = state.withLockedValue { s -> (String?, Bool) in
            func heldByOther(_ owner: String?) -> Bool {
                guard let owner, owner != principal else { return false }
                // SOCKS5 users come from the service's auth, not the tokens: always configured.
                return owner.hasPrefix("socks5:") || (s.live?.contains(owner) ?? true)
            }
            for item in items where !item.byName {
                let what = item.kind == .tunnel ? "tunnel" : item.kind == .port ? "port" : "hostname"
                if heldByOther(s.table[item.kind][item.key]) { return ("\(what) \(item.key) is held by another token", false) }
                // A name under another's wildcard would take traffic that wildcard gets now (an
                // exact name wins the lookup): it is that principal's too.
                if item.kind == .hostname {
                    for cover in Self.coveringWildcards(item.key) where heldByOther(s.table.hostnames[cover]) {
                        return ("hostname \(item.key) is under \(cover), held by another token", false)
                    }
                }
            }
            let new = items.filter { s.table[$0.kind][$0.key] == nil }
            guard !new.isEmpty else { return (nil, false) }
            if s.held[principal, default: 0] + new.count > Self.maxPerPrincipal {
                return ("this token holds the most claims allowed (\(Self.maxPerPrincipal))", false)
            }
            if s.table.count + new.count > Self.maxEntries, let live = s.live {
                // Full: void entries (principals no longer configured) go first.
                let kept = { (owner: String) in owner.hasPrefix("socks5:") || live.contains(owner) }
                for kind in [Kind.tunnel, .port, .hostname] { s.table[kind] = s.table[kind].filter { kept($0.value) } }
                s.held = s.held.filter { kept($0.key) }
            }
            guard s.table.count + new.count <= Self.maxEntries else { return ("the relay's claims table is full", false) }
            for item in new {
                s.table[item.kind][item.key] = principal
                s.held[principal, default: 0] += 1
            }
            return (nil, true)
        }
        if changed { save() }
        return reason
    }

    /// The owner recorded for a tunnel ID (a principal), if any.
    public func owner(ofTunnel id: String) -> String? {
        state.withLockedValue { $0.table.tunnels[id] }
    }

    /// The owner recorded for a hostname pattern, if any.
    public func owner(ofHostname pattern: String) -> String? {
        state.withLockedValue { $0.table.hostnames[Self.hostKey(pattern)] }
    }

    /// The owner recorded for a port key (`tcp/2222`), if any.
    public func owner(ofPort key: String) -> String? {
        state.withLockedValue { $0.table.ports[key] }
    }

    /// Written whole to a temporary file and renamed over the old one, so a crash never leaves half
    /// a table; off the event loop (a registration decides on it), one write at a time, each
    /// writing the table as it is then, so the last write holds the newest table. Only a
    /// registration that claims something new writes (rare: once per tunnel). A relay started
    /// with -L/-C has not made its state directory: it is made here.
    private func save() {
        guard let file else { return }
        let state = self.state
        let writing = self.writing
        NIOThreadPool.singleton.submit { pool in
            guard pool == .active else { return }
            writing.withLock {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                guard let data = try? encoder.encode(state.withLockedValue { $0.table }) else { return }
                let directory = (file as NSString).deletingLastPathComponent
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let temporary = file + ".tmp"
                guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]),
                    rename(temporary, file) == 0
                else {
                    Logger(label: "tunnel-server").error("cannot write the claims table: claims will not survive a restart", metadata: ["file": "\(file)", "errno": "\(errno)"])
                    return
                }
            }
        }
    }
}
