import Crypto
import Foundation

/// The operator's cluster secret (`--cluster-key-file`): every secret a relay stores in etcd (the
/// CA and server keys, agent tokens, ACME account and certificate keys) is sealed with it, so
/// etcd, its backups and anyone who can read them see only ciphertext.
///
/// The file holds any secret of at least 16 bytes (`openssl rand -hex 32 > cluster.key`); the
/// AES-256 key is derived from it with HKDF-SHA256. Each value is sealed with AES-GCM and bound
/// to its etcd key as associated data, so a sealed value moved to another key does not open.
public struct ClusterKey: Sendable {
    private let key: SymmetricKey
    /// Sealed values start with this (a format version, so the scheme can change later).
    static let magic: [UInt8] = Array("TC1".utf8)

    public init(secret: [UInt8]) throws {
        guard secret.count >= 16 else {
            throw ClusterError(path: "--cluster-key-file", reason: "the cluster key must hold at least 16 bytes (e.g. openssl rand -hex 32), got \(secret.count)")
        }
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), salt: Data("tunnel cluster".utf8), info: Data("etcd values v1".utf8), outputByteCount: 32)
    }

    /// Reads the key file (surrounding whitespace is not part of the secret).
    public init(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ClusterError(path: "--cluster-key-file", reason: "cannot read \(file)")
        }
        if let text = String(data: data, encoding: .utf8) {
            try self.init(secret: Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        } else {
            try self.init(secret: Array(data))
        }
    }

    /// `plaintext` sealed for the etcd key `name`.
    public func seal(_ plaintext: [UInt8], for name: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(name.utf8))
        return Self.magic + Array(box.combined!)
    }

    /// The plaintext of a value sealed for `name`; an error names the key when the value was
    /// sealed with another cluster key (or altered).
    public func open(_ sealed: [UInt8], for name: String) throws -> [UInt8] {
        guard sealed.count > Self.magic.count + 28, Array(sealed.prefix(Self.magic.count)) == Self.magic else {
            throw ClusterError(path: name, reason: "not a value sealed with a cluster key (stored in the clear, or by something else)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(Self.magic.count))
            return Array(try AES.GCM.open(box, using: key, authenticating: Array(name.utf8)))
        } catch {
            throw ClusterError(path: name, reason: "cannot be opened with this --cluster-key-file (the cluster was set up with another key, or the value was altered)")
        }
    }
}
