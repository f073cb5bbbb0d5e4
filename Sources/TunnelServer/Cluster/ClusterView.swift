import Etcd
import Foundation

/// What a relay knows of the rest of the cluster: its members and which tunnels have sessions on
/// which relay. A pure value built from etcd's keys (a listing, then the watch's events), so it
/// is tested with keys alone.
struct ClusterView: Equatable {
    let prefix: String
    /// This relay: its own records are the local directory's business, not the view's.
    let me: String
    private(set) var members: [String: ClusterMember] = [:]
    /// tunnel → relay → record.
    private(set) var tunnels: [String: [String: TunnelRecord]] = [:]
    /// The store revision the view is current with.
    private(set) var revision: Int64 = 0

    init(prefix: String, me: String) {
        self.prefix = prefix
        self.me = me
    }

    /// A fresh view from a listing of the whole prefix.
    mutating func reset(_ kvs: [EtcdKeyValue], revision: Int64) {
        members = [:]
        tunnels = [:]
        for kv in kvs { put(kv) }
        self.revision = revision
    }

    /// Applies a watch batch; whether anything the relay routes by changed.
    @discardableResult
    mutating func apply(_ batch: EtcdWatchBatch) -> Bool {
        let before = (members, tunnels)
        for event in batch.events {
            switch event.kind {
            case .put: put(event.kv)
            case .delete: delete(event.kv.key)
            }
        }
        revision = max(revision, batch.revision)
        return before.0 != members || before.1 != tunnels
    }

    private enum Key {
        case member(String)
        case tunnel(String, relay: String)
    }

    private func parse(_ key: String) -> Key? {
        guard key.hasPrefix(prefix) else { return nil }
        let parts = key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, parts[0] == "members", !parts[1].isEmpty { return .member(parts[1]) }
        if parts.count == 3, parts[0] == "tunnels", !parts[1].isEmpty, !parts[2].isEmpty { return .tunnel(parts[1], relay: parts[2]) }
        return nil
    }

    private mutating func put(_ kv: EtcdKeyValue) {
        switch parse(kv.key) {
        case .member(let id):
            if let m = try? JSONDecoder.cluster.decode(ClusterMember.self, from: Data(kv.value)) { members[id] = m }
        case .tunnel(let tunnel, let relay):
            guard relay != me, let r = try? JSONDecoder.cluster.decode(TunnelRecord.self, from: Data(kv.value)) else { return }
            tunnels[tunnel, default: [:]][relay] = r
        case nil: break
        }
    }

    private mutating func delete(_ key: String) {
        switch parse(key) {
        case .member(let id): members[id] = nil
        case .tunnel(let tunnel, let relay):
            tunnels[tunnel]?[relay] = nil
            if tunnels[tunnel]?.isEmpty == true { tunnels[tunnel] = nil }
        case nil: break
        }
    }

    /// The other relays that can carry a visitor to `tunnel` now: they hold sessions of it, are
    /// members with a peer address, and the tunnel has no policy only they could enforce.
    func carriers(of tunnel: String) -> [(relay: String, peerAddr: String, record: TunnelRecord)] {
        (tunnels[tunnel] ?? [:]).compactMap { relay, record in
            guard record.sessions > 0, !record.policy, let addr = members[relay]?.peerAddr else { return nil }
            return (relay, addr, record)
        }.sorted { $0.relay < $1.relay }
    }

    /// Hostname pattern → tunnel for every tunnel held elsewhere (the first relay by name wins
    /// when two records disagree, so every relay decides alike).
    var remoteRules: [String: String] {
        var rules: [String: String] = [:]
        for tunnel in tunnels.keys.sorted() {
            for (_, record) in tunnels[tunnel]!.sorted(by: { $0.key < $1.key }) {
                for host in record.hostnames where rules[host] == nil { rules[host] = tunnel }
            }
        }
        return rules
    }

    /// TCP port → tunnel for the ports other relays' agents asked for, where those tunnels can be
    /// carried (the first tunnel by name wins a port two records name, on every relay alike).
    var remotePorts: [Int: String] {
        var ports: [Int: String] = [:]
        for tunnel in tunnels.keys.sorted() where !carriers(of: tunnel).isEmpty {
            for (_, record) in tunnels[tunnel]!.sorted(by: { $0.key < $1.key }) {
                for port in record.ports where ports[port] == nil { ports[port] = tunnel }
            }
        }
        return ports
    }

    /// Whether `tunnel` has sessions on some other relay.
    func holds(_ tunnel: String) -> Bool { !(tunnels[tunnel] ?? [:]).isEmpty }
}
