import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Certificates that rules name by file (`certFile`/`keyFile`): loaded into the store when the
/// config is built (a file that cannot be used refuses the config), then watched, so a renewed
/// certificate written by another tool (certbot, cert-manager) is served without a restart.
///
/// Why polling: inotify is Linux-only and misses the rename that most tools use to replace a file
/// atomically; a `stat` of a few files every `interval` costs nothing, and runs in a task, never
/// on an event loop.
public final class CertificateFiles: Service, Sendable {
    struct Watched: Sendable {
        /// The rule's hostname, or nil: every DNS name the certificate covers (`--tls-cert`).
        var pattern: String?
        var certFile: String
        var keyFile: String
        var stamp: [Stamp]
    }

    struct Stamp: Sendable, Equatable {
        var modified: Date?
        var size: Int?
    }

    private let store: CertificateStore
    private let watched = NIOLockedValueBox<[Watched]>([])
    private let interval: Duration
    private let logger: Logger

    public init(store: CertificateStore, interval: Duration = .seconds(2), logger: Logger = Logger(label: "tunnel-server.certificates")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// Loads the pair for `pattern` (nil: for every DNS name in the certificate) now and watches
    /// it from here on.
    public func load(pattern: String?, certFile: String, keyFile: String) throws {
        let stamp = [Self.stamp(certFile), Self.stamp(keyFile)]
        let certificate = try ServingCertificate(certFile: certFile, keyFile: keyFile)
        if pattern == nil, certificate.names.isEmpty {
            throw CertificateError(reason: "\(certFile) names no DNS name (subjectAltName) to serve it for")
        }
        store.install(certificate, for: pattern.map { [$0] } ?? certificate.names)
        watched.withLockedValue { list in
            list.removeAll { $0.pattern == pattern && $0.certFile == certFile }
            list.append(Watched(pattern: pattern, certFile: certFile, keyFile: keyFile, stamp: stamp))
        }
        if let pattern, !certificate.covers(pattern.hasPrefix(".") ? "*" + pattern : pattern) {
            logger.warning("certificate does not cover its rule's hostname", metadata: ["hostname": "\(pattern)", "certFile": "\(certFile)", "names": "\(certificate.names)"])
        }
    }

    /// Reloads every pair whose files changed since they were last read; returns how many.
    @discardableResult
    public func reloadChanged() -> Int {
        var reloaded = 0
        for var entry in watched.withLockedValue({ $0 }) {
            let stamp = [Self.stamp(entry.certFile), Self.stamp(entry.keyFile)]
            guard stamp != entry.stamp else { continue }
            do {
                let certificate = try ServingCertificate(certFile: entry.certFile, keyFile: entry.keyFile)
                store.install(certificate, for: entry.pattern.map { [$0] } ?? certificate.names)
                reloaded += 1
                logger.info("certificate reloaded", metadata: ["hostname": "\(entry.pattern ?? certificate.names.joined(separator: ","))", "sha256": "\(certificate.fingerprint)", "notAfter": "\(certificate.notAfter)"])
            } catch {
                // Half-written files (a tool mid-rename) read as garbage: keep serving the old
                // pair and try again at the next change.
                logger.warning("certificate files changed but cannot be used; still serving the previous certificate", metadata: ["certFile": "\(entry.certFile)", "error": "\(error)"])
            }
            entry.stamp = stamp
            watched.withLockedValue { list in
                if let i = list.firstIndex(where: { $0.pattern == entry.pattern && $0.certFile == entry.certFile }) { list[i].stamp = stamp }
            }
        }
        return reloaded
    }

    /// Polls until graceful shutdown (with nothing to watch it only waits: a service that
    /// returns would stop the relay).
    public func run() async throws {
        // Certificates loaded before the metrics backend was installed show from now on.
        store.expiry.publish()
        guard !watched.withLockedValue({ $0.isEmpty }) else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            reloadChanged()
        }
    }

    static func stamp(_ path: String) -> Stamp {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return Stamp(modified: attributes?[.modificationDate] as? Date, size: (attributes?[.size] as? NSNumber)?.intValue)
    }
}
