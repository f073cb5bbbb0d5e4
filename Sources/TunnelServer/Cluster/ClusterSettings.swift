import Etcd

/// How a relay joins a cluster (`--etcd` and the flags beside it): value-type settings.
public struct ClusterSettings: Sendable {
    public var etcd: EtcdConfiguration
    /// Where this cluster's keys live in etcd (several clusters may share one etcd).
    public var prefix: String
    /// The secret every sealed value is sealed with.
    public var keyFile: String
    /// Seconds a dead relay's records outlive it.
    public var leaseTTL: Int64
    /// This relay's name in the cluster (its member record's key).
    public var relayID: String

    public init(etcd: EtcdConfiguration, prefix: String, keyFile: String, leaseTTL: Int64 = 5, relayID: String) {
        self.etcd = etcd
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.keyFile = keyFile
        self.leaseTTL = leaseTTL
        self.relayID = relayID
    }

    func memberKey(_ id: String) -> String { prefix + "members/" + id }
    var membersPrefix: String { prefix + "members/" }
}
