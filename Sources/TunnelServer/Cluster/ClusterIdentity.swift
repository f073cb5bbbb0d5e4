import Etcd
import Foundation
import Logging

/// One identity for every relay of a cluster: the CA, the server certificate and key agents pin,
/// and the agent token, kept in etcd (sealed with the cluster key) and mirrored into each
/// relay's state directory, where `RelayState` reads them as on a single relay.
///
/// The first relay to start publishes its own (made now, or the one its state directory already
/// had), in one create-if-absent transaction; every later relay, even with an empty state
/// directory, takes the published one and overwrites its local files with it. So every relay
/// prints the same `--pin` and `--token`, and an agent may attach to any of them.
enum ClusterIdentity {
    /// What the state directory mirrors.
    struct Bundle: Codable, Equatable {
        var ca: String
        var cert: String
        var key: String
        var token: String
        /// What relays authenticate each other with (mutual TLS between peers): a CA of the
        /// cluster's own and one certificate it signed for client and server use, shared by all.
        var peerCA: String
        var peerCert: String
        var peerKey: String
    }

    enum Outcome: String, Equatable {
        /// This relay's identity is now the cluster's.
        case published
        /// The cluster's identity was written into the state directory.
        case adopted
        /// The state directory already held the cluster's identity.
        case unchanged
    }

    static func key(prefix: String) -> String { prefix + "identity" }

    /// Makes the state directory hold the cluster's identity (publishing this relay's when the
    /// cluster has none yet).
    static func sync(stateDir: String, hostnames: [String], store: EtcdClient, key sealing: ClusterKey, prefix: String, logger: Logger) async throws -> Outcome {
        let name = key(prefix: prefix)
        if let stored = try await store.get(name) {
            return try adopt(stored.value, name: name, stateDir: stateDir, sealing: sealing, logger: logger)
        }
        _ = try RelayState.loadOrCreate(directory: stateDir, hostnames: hostnames)
        if (try? readPeer(stateDir)) == nil {
            let peer = try PeerTLS.issue()
            let f = Files(stateDir)
            try RelayState.write(peer.ca, to: f.peerCA)
            try RelayState.write(peer.cert, to: f.peerCert)
            try RelayState.write(peer.key, to: f.peerKey)
        }
        let mine = try read(stateDir)
        let sealed = try sealing.seal(Array(try JSONEncoder().encode(mine)), for: name)
        if let other = try await store.create(name, sealed) {
            // Another relay published first, between our read and our create.
            return try adopt(other.value, name: name, stateDir: stateDir, sealing: sealing, logger: logger)
        }
        logger.notice("published this relay's identity (CA, certificate, agent token) to the cluster", metadata: ["key": "\(name)"])
        return .published
    }

    static func adopt(_ sealed: [UInt8], name: String, stateDir: String, sealing: ClusterKey, logger: Logger) throws -> Outcome {
        let plain = try sealing.open(sealed, for: name)
        let bundle: Bundle
        do {
            bundle = try JSONDecoder().decode(Bundle.self, from: Data(plain))
        } catch {
            throw ClusterError(path: name, reason: "the cluster's identity is not what a relay writes: \(error)")
        }
        if (try? read(stateDir)) == bundle { return .unchanged }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let files = Files(stateDir)
        try RelayState.write(bundle.ca, to: files.ca)
        try RelayState.write(bundle.cert, to: files.cert)
        try RelayState.write(bundle.key, to: files.key)
        try RelayState.write(bundle.token + "\n", to: files.token)
        try RelayState.write(bundle.peerCA, to: files.peerCA)
        try RelayState.write(bundle.peerCert, to: files.peerCert)
        try RelayState.write(bundle.peerKey, to: files.peerKey)
        logger.notice("took the cluster's identity (CA, certificate, agent token) into the state directory", metadata: ["dir": "\(stateDir)"])
        return .adopted
    }

    struct Files {
        var ca, cert, key, token, peerCA, peerCert, peerKey: String
        init(_ dir: String) {
            ca = dir + "/ca.pem"
            cert = dir + "/server.pem"
            key = dir + "/server-key.pem"
            token = dir + "/agent-token"
            peerCA = dir + "/peer-ca.pem"
            peerCert = dir + "/peer.pem"
            peerKey = dir + "/peer-key.pem"
        }
    }

    private static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    static func read(_ stateDir: String) throws -> Bundle {
        let f = Files(stateDir)
        let peer = try readPeer(stateDir)
        return Bundle(
            ca: try text(f.ca), cert: try text(f.cert), key: try text(f.key), token: try text(f.token).trimmingCharacters(in: .whitespacesAndNewlines),
            peerCA: peer.ca, peerCert: peer.cert, peerKey: peer.key)
    }

    /// The peer material the state directory holds (what a relay started without etcd uses).
    static func readPeer(_ stateDir: String) throws -> PeerTLS.Material {
        let f = Files(stateDir)
        return PeerTLS.Material(ca: try text(f.peerCA), cert: try text(f.peerCert), key: try text(f.peerKey))
    }
}
