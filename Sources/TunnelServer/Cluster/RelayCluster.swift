import Etcd
import Foundation
import Logging
import ServiceLifecycle

/// This relay's part in a cluster (`--etcd`): the shared identity taken at start, and the
/// lease its records live on.
public final class RelayCluster: Sendable {
    public let settings: ClusterSettings
    let store: EtcdClient
    let sealing: ClusterKey
    public let lease: ClusterLease
    let logger: Logger

    init(settings: ClusterSettings, store: EtcdClient, sealing: ClusterKey, logger: Logger) {
        self.settings = settings
        self.store = store
        self.sealing = sealing
        self.logger = logger
        lease = ClusterLease(store: store, ttl: settings.leaseTTL, logger: logger)
    }

    /// Connects to etcd and makes the state directory hold the cluster's identity. Without etcd
    /// at start, a relay whose state directory has an identity starts on it (and catches up
    /// later); one with none cannot know the cluster's and refuses to start.
    static func join(_ settings: ClusterSettings, stateDir: String, hostnames: [String], member: ClusterMember, logger: Logger) async throws -> RelayCluster {
        let sealing = try ClusterKey(file: settings.keyFile)
        let store = try EtcdClient(settings.etcd, logger: logger)
        let cluster = RelayCluster(settings: settings, store: store, sealing: sealing, logger: logger)
        do {
            let outcome = try await ClusterIdentity.sync(stateDir: stateDir, hostnames: hostnames, store: store, key: sealing, prefix: settings.prefix, logger: logger)
            logger.info("joined the cluster", metadata: ["relay": "\(settings.relayID)", "identity": "\(outcome.rawValue)", "etcd": "\(settings.etcd.endpoints.joined(separator: ","))"])
        } catch let error as EtcdError where error.kind == .unavailable && FileManager.default.fileExists(atPath: stateDir + "/agent-token") {
            logger.warning("etcd is unreachable: starting on the identity in the state directory", metadata: ["error": "\(error)"])
        } catch {
            try? await store.shutdown()
            throw error
        }
        await cluster.lease.hold(settings.memberKey(settings.relayID), Array(try JSONEncoder.cluster.encode(member)))
        return cluster
    }

    /// The relays the cluster has now.
    public func members() async throws -> [ClusterMember] {
        try await store.list(prefix: settings.membersPrefix).kvs.compactMap { try? JSONDecoder.cluster.decode(ClusterMember.self, from: Data($0.value)) }
    }

    func shutdown() async {
        try? await store.shutdown()
    }
}

extension JSONEncoder {
    /// Dates as ISO 8601, keys sorted: what every relay writes into etcd.
    static var cluster: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

extension JSONDecoder {
    static var cluster: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
