import Shared

/// The relay's top-level `etcd:` section: the cluster it joins, as the `--etcd…` flags give it
/// (a flag wins over the file's value).
///
/// ```yaml
/// etcd:
///   endpoints: [https://etcd-0:2379, https://etcd-1:2379]
///   prefix: /tunnel/
///   caFile: /etc/tunnel/etcd-ca.pem
///   certFile: /etc/tunnel/etcd-client.pem
///   keyFile: /etc/tunnel/etcd-client-key.pem
///   clusterKeyFile: /etc/tunnel/cluster.key
///   leaseTTL: 5
///   relayID: relay-a
///   peerAddr: 0.0.0.0:7443
/// ```
public struct EtcdSection: ConfigSection {
    public static let key = "etcd"

    public var endpoints: [String]?
    public var prefix: String?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var clusterKeyFile: String?
    public var leaseTTL: Int?
    public var relayID: String?
    public var peerAddr: String?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoints, prefix, caFile, certFile, keyFile, clusterKeyFile, leaseTTL, relayID, peerAddr
    }

    public func validate() throws {
        if let endpoints, endpoints.isEmpty { throw ConfigError(path: "etcd.endpoints", reason: "lists one or more client URLs") }
        if let prefix, !prefix.hasPrefix("/") { throw ConfigError(path: "etcd.prefix", reason: "a key prefix starts with /, got \"\(prefix)\"") }
        if let leaseTTL, !(2...300).contains(leaseTTL) { throw ConfigError(path: "etcd.leaseTTL", reason: "takes 2 to 300 seconds") }
        if (certFile == nil) != (keyFile == nil) { throw ConfigError(path: "etcd.certFile", reason: "certFile and keyFile go together") }
        if let peerAddr, (try? HostPort(parsing: peerAddr)) == nil { throw ConfigError(path: "etcd.peerAddr", reason: "takes host:port, got \"\(peerAddr)\"") }
    }
}
