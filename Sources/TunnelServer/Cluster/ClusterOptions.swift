import ArgumentParser
import Etcd
import Foundation
import Shared

/// The relay's cluster flags. Without `--etcd` none of them applies and the relay is on its own.
struct ClusterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Join the cluster kept in this etcd (client URLs, comma-separated): one identity, tunnel directory and certificates for every relay.", valueName: "url[,url...]"))
    var etcd: String?

    @Option(help: ArgumentHelp("Where the cluster's keys live in etcd (default /tunnel/).", valueName: "prefix"))
    var etcdPrefix: String?

    @Option(help: ArgumentHelp("Trust this CA (PEM) for etcd's TLS.", valueName: "pem"))
    var etcdCaFile: String?

    @Option(help: ArgumentHelp("A client certificate (PEM) for etcd (its --client-cert-auth), with --etcd-key-file.", valueName: "pem"))
    var etcdCertFile: String?

    @Option(help: ArgumentHelp("The key (PEM) of --etcd-cert-file.", valueName: "pem"))
    var etcdKeyFile: String?

    @Option(help: ArgumentHelp("The cluster's secret (at least 16 bytes, e.g. from openssl rand -hex 32), the same on every relay: every secret stored in etcd is sealed with it.", valueName: "file"))
    var clusterKeyFile: String?

    @Option(help: ArgumentHelp("Seconds a relay's records (membership, its tunnels) outlive it in etcd if it dies (default 5).", valueName: "seconds"))
    var clusterLeaseTtl: Int?

    @Option(help: ArgumentHelp("This relay's name in the cluster (default: one made on first start and kept in the state directory).", valueName: "name"))
    var relayId: String?

    @Option(help: ArgumentHelp("Where the other relays of the cluster reach this one (recorded in its member record).", valueName: "host:port"))
    var peerAddr: String?

    /// The settings from the flags and the config's `etcd:` section (a flag wins), nil without
    /// endpoints; flags that need `--etcd` without it are an error.
    func settings(stateDir: String, section: EtcdSection? = nil) throws -> ClusterSettings? {
        let s = section ?? EtcdSection()
        let etcd = self.etcd ?? s.endpoints?.joined(separator: ",")
        let caFile = etcdCaFile ?? s.caFile
        let certFile = etcdCertFile ?? s.certFile
        let keyFile = etcdKeyFile ?? s.keyFile
        let clusterKeyFile = self.clusterKeyFile ?? s.clusterKeyFile
        let relayId = self.relayId ?? s.relayID
        let ttl = clusterLeaseTtl ?? s.leaseTTL ?? 5
        guard let etcd else {
            if caFile != nil || certFile != nil || keyFile != nil || clusterKeyFile != nil || relayId != nil || peerAddress(section: s) != nil {
                throw ValidationError("--etcd-ca-file, --etcd-cert-file, --etcd-key-file, --cluster-key-file, --relay-id and --peer-addr need --etcd")
            }
            return nil
        }
        let endpoints = etcd.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !endpoints.isEmpty else { throw ValidationError("--etcd takes one or more client URLs, e.g. http://127.0.0.1:2379") }
        for e in endpoints {
            guard let url = URL(string: e.contains("://") ? e : "http://" + e), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--etcd: \"\(e)\" is not an http:// or https:// URL")
            }
        }
        guard let clusterKeyFile else {
            throw ValidationError("--etcd needs --cluster-key-file: the secrets a relay stores in etcd are sealed with it, never kept in the clear")
        }
        if (certFile == nil) != (keyFile == nil) { throw ValidationError("--etcd-cert-file and --etcd-key-file go together") }
        for (flag, file) in [("--etcd-ca-file", caFile), ("--etcd-cert-file", certFile), ("--etcd-key-file", keyFile), ("--cluster-key-file", clusterKeyFile)] {
            if let file, !FileManager.default.isReadableFile(atPath: file) { throw ValidationError("\(flag): cannot read \(file)") }
        }
        guard (2...300).contains(ttl) else { throw ValidationError("--cluster-lease-ttl takes 2 to 300 seconds") }
        if let peer = peerAddress(section: s), (try? HostPort(parsing: peer)) == nil { throw ValidationError("--peer-addr takes host:port, got \"\(peer)\"") }
        let id = try relayId ?? Self.persistentID(stateDir: stateDir)
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--relay-id takes letters, digits, '-', '_' and '.', got \"\(id)\"")
        }
        return ClusterSettings(
            etcd: EtcdConfiguration(endpoints: endpoints, caFile: caFile, certFile: certFile, keyFile: keyFile), prefix: etcdPrefix ?? s.prefix ?? "/tunnel/",
            keyFile: clusterKeyFile, leaseTTL: Int64(ttl), relayID: id)
    }

    /// `--peer-addr`, else the section's `peerAddr`.
    func peerAddress(section: EtcdSection?) -> String? { peerAddr ?? section?.peerAddr }

    /// The relay's own cluster name, made once and kept in the state directory (it is not part
    /// of the shared identity).
    static func persistentID(stateDir: String) throws -> String {
        let file = stateDir + "/relay-id"
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return id }
        }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let id = "relay-" + (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try RelayState.write(id + "\n", to: file)
        return id
    }
}
