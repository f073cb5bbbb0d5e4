import Crypto
import Foundation

/// The relay's ACME state on disk, in the settings' folder (owner-only, like the rest of the
/// state directory): the account key and URL, and per name the certificate chain and its key.
/// Reused across restarts, so a restart serves what it had and orders nothing new.
struct ACMEStateFiles: Sendable {
    let directory: String

    var accountKeyFile: String { directory + "/account-key.pem" }
    var accountURLFile: String { directory + "/account-url" }

    func certificateFiles(for name: String) -> (cert: String, key: String) {
        let safe = HostTable<String>.normalize(name).replacingOccurrences(of: "*", with: "_wildcard")
        let folder = directory + "/certs/" + safe
        return (folder + "/fullchain.pem", folder + "/key.pem")
    }

    /// The account key, created (and written) on first use.
    func accountKey() throws -> P256.Signing.PrivateKey {
        if let pem = try? String(contentsOfFile: accountKeyFile, encoding: .utf8) {
            return try P256.Signing.PrivateKey(pemRepresentation: pem)
        }
        let key = P256.Signing.PrivateKey()
        try write(key.pemRepresentation, to: accountKeyFile)
        return key
    }

    var accountURL: String? {
        (try? String(contentsOfFile: accountURLFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func saveAccountURL(_ url: String) throws {
        try write(url + "\n", to: accountURLFile)
    }

    /// The stored certificate for `name`, if both files are there and usable.
    func certificate(for name: String) -> ServingCertificate? {
        let files = certificateFiles(for: name)
        return try? ServingCertificate(certFile: files.cert, keyFile: files.key)
    }

    /// Writes a new pair: key first, each file replaced by a rename, so a crash in between
    /// leaves either the old pair or a new key beside the old chain (which then fails to load and
    /// is ordered again), never a half-written file.
    func save(chainPEM: String, keyPEM: String, for name: String) throws {
        let files = certificateFiles(for: name)
        try write(keyPEM, to: files.key)
        try write(chainPEM, to: files.cert)
    }

    func write(_ text: String, to path: String) throws {
        let fm = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".new"
        guard fm.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CertificateError(reason: "cannot write \(temporary)")
        }
        if rename(temporary, path) != 0 {
            throw CertificateError(reason: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}
