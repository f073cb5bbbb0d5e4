import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Shared

/// Who holds each tunnel ID and each relay port: the first token to claim one keeps it for as long
/// as that token exists, whether or not its agents are online. Without this a token allowed `"*"`
/// could register another tenant's tunnel (IDs derived from hostnames are computable) or squat its
/// rtcp port in the gap of a reconnect or a relay restart, and take its traffic.
///
/// Tokens are known by a digest (`principal(of:)`), so the table holds no secret and can be kept in
/// the relay's state directory (`claims.json`) across restarts. An entry whose token is no longer
/// configured is void: removing a token from the tokens file is how an operator frees its claims.
public final class ClaimOwners: Sendable {
    struct Table: Codable, Equatable {
        /// Tunnel ID → principal.
        var tunnels: [String: String] = [:]
        /// `tcp/2222`, `udp/5353` → principal.
        var ports: [String: String] = [:]
    }

    private let table: NIOLockedValueBox<Table>
    /// Where the table is kept; nil keeps it in memory only.
    public let file: String?
    /// The most entries of each kind; past it new claims are refused (each costs a line on disk).
    public static let maxEntries = 100_000

    /// Reads `file` if it exists (a damaged file is an error: silently forgetting owners would hand
    /// their tunnels to whoever asks first).
    public init(file: String? = nil) throws {
        self.file = file
        var table = Table()
        if let file, let data = FileManager.default.contents(atPath: file) {
            do {
                table = try JSONDecoder().decode(Table.self, from: data)
            } catch {
                throw ConfigError(path: file, reason: "cannot read the claims table: \(error)")
            }
        }
        self.table = NIOLockedValueBox(table)
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

    /// Checks every tunnel and port of `hello` against the table and, when none is held by another
    /// live principal, records `principal` as the owner of those nobody holds. nil on success, else
    /// the precise reason. `livePrincipals` are the configured tokens' principals (nil: every
    /// recorded owner counts); an owner outside it is void and its claims are taken over.
    public func claim(_ hello: TunnelMessages.Hello, by principal: String, livePrincipals: Set<String>?) -> String? {
        var tunnels: [String] = []
        var ports: [String] = []
        for claim in hello.tunnels {
            tunnels.append(claim.id)
            ports += (claim.ports ?? []).map { "tcp/\($0)" } + (claim.udpPorts ?? []).map { "udp/\($0)" }
        }
        let (reason, changed) = table.withLockedValue { t -> (String?, Table?) in
            func heldByOther(_ owner: String?) -> Bool {
                guard let owner, owner != principal else { return false }
                return livePrincipals?.contains(owner) ?? true
            }
            for id in tunnels where heldByOther(t.tunnels[id]) {
                return ("tunnel \(id) is held by another token", nil)
            }
            for key in ports where heldByOther(t.ports[key]) {
                return ("port \(key) is held by another token", nil)
            }
            var next = t
            for id in tunnels { next.tunnels[id] = principal }
            for key in ports { next.ports[key] = principal }
            guard next.tunnels.count <= Self.maxEntries, next.ports.count <= Self.maxEntries else {
                return ("the relay's claims table is full", nil)
            }
            if next == t { return (nil, nil) }
            t = next
            return (nil, next)
        }
        if changed != nil { save() }
        return reason
    }

    /// The owner recorded for a tunnel ID (a principal), if any.
    public func owner(ofTunnel id: String) -> String? {
        table.withLockedValue { $0.tunnels[id] }
    }

    /// The owner recorded for a port key (`tcp/2222`), if any.
    public func owner(ofPort key: String) -> String? {
        table.withLockedValue { $0.ports[key] }
    }

    /// Written whole to a temporary file and renamed over the old one, so a crash never leaves half
    /// a table; off the event loop (a registration decides on it), one write at a time, each
    /// writing the table as it is then, so the last write holds the newest table. Only a
    /// registration that claims something new writes (rare: once per tunnel).
    private func save() {
        guard let file else { return }
        let table = self.table
        let writing = self.writing
        NIOThreadPool.singleton.submit { state in
            guard state == .active else { return }
            writing.withLock {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                guard let data = try? encoder.encode(table.withLockedValue { $0 }) else { return }
                let temporary = file + ".tmp"
                if FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) {
                    _ = rename(temporary, file)
                }
            }
        }
    }
    private let writing = NIOLock()
}
