import ACME
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps a certificate from the ACME CA for every name the relay serves by itself: the exact
/// hostnames of its ingress rules and those agents claimed (accepted by their token), plus
/// wildcards when a DNS hook is configured. Nobody asks for one: `want` is fed by the directory.
///
/// Why it never costs the relay its start or other names: orders run in child tasks, a few at a
/// time, each for one name; a failed order is retried after a delay that doubles up to an hour;
/// and nothing waits for them — a name without a certificate yet is simply passed through (or
/// refused, if its rule says `terminate`) until one arrives. A name only reaches `want` once the
/// operator's config or an accepted token put it in the directory, so a visitor's SNI or a
/// refused agent can never make the relay spend the CA's rate limits.
///
/// Renewal: at a third of the lifetime left, or inside the CA's renewal window where it offers
/// ARI; the new certificate replaces the old in the store, so connections that started on the old
/// one finish on it and new handshakes get the new one.
public final class ACMEManager: Service, Sendable {
    enum NameState: Sendable, Equatable {
        /// Not looked at yet (maybe on disk from an earlier run).
        case new
        case ordering
        case valid(renewAt: Date)
        case failed(retryAt: Date, attempts: Int)
        /// Served from the operator's own files; never ordered.
        case external
    }

    private let settings: ACMESettings
    private let store: CertificateStore
    private let tokens: ACMEHTTPTokens
    private let files: ACMEStateFiles
    private let skip: @Sendable (String) -> Bool
    private let logger: Logger
    private let names = NIOLockedValueBox<[String: NameState]>([:])
    private let poll: Duration

    /// `skip` names hostnames whose rule says `passthrough` (the relay never terminates them).
    public init(settings: ACMESettings, store: CertificateStore, tokens: ACMEHTTPTokens, skip: @escaping @Sendable (String) -> Bool = { _ in false }, poll: Duration = .seconds(1), logger: Logger) {
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.files = ACMEStateFiles(directory: settings.directory)
        self.skip = skip
        self.poll = poll
        self.logger = logger
    }

    /// Names the relay serves (rules, accepted claims); new ones are looked at on the next tick.
    public func want(_ hostnames: [String]) {
        let wanted = hostnames.map { HostTable<String>.normalize($0) }.filter { settings.orders($0) }
        guard !wanted.isEmpty else { return }
        names.withLockedValue { n in
            for name in wanted where n[name] == nil { n[name] = .new }
        }
    }

    /// The state of `name`, for tests and the status output.
    func state(of name: String) -> NameState? {
        names.withLockedValue { $0[HostTable<String>.normalize(name)] }
    }

    public func run() async throws {
        let http = ACMEClient.makeHTTPClient(extraTrustPEMFile: settings.caFile)
        await run(http: http)
        try? await http.shutdown()
    }

    private func run(http: HTTPClient) async {
        let accountKey: P256.Signing.PrivateKey
        do {
            accountKey = try files.accountKey()
        } catch {
            logger.error("ACME: cannot read or create the account key; no certificates will be ordered", metadata: ["file": "\(files.accountKeyFile)", "error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        let client = ACMEClient(directoryURL: settings.directoryURL, accountKey: accountKey, httpClient: http, logger: logger, accountURL: files.accountURL)
        let solver = RelayChallengeSolver(
            tokens: tokens, store: store, dnsHook: settings.dnsHook.map { DNSHook(command: $0, logger: logger) }, preferTLSALPN: settings.preferTLSALPN)
        logger.info("ACME on", metadata: ["directory": "\(settings.directoryURL)", "email": "\(settings.email)", "state": "\(settings.directory)"])
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                for (name, first) in takeDue(now: Date()) {
                    group.addTask { await self.obtain(name, firstLook: first, client: client, solver: solver) }
                }
                try? await Task.sleep(for: poll)
            }
            group.cancelAll()
        }
    }

    /// Names whose turn has come, marked as ordering (at most `maxConcurrentOrders` at once);
    /// `first` says the name was never looked at (its files may already hold a certificate).
    func takeDue(now: Date) -> [(String, Bool)] {
        names.withLockedValue { n in
            var running = n.values.filter { $0 == .ordering }.count
            var due: [(String, Bool)] = []
            for (name, state) in n.sorted(by: { $0.key < $1.key }) where running < settings.maxConcurrentOrders {
                switch state {
                case .new: due.append((name, true))
                case .valid(let renewAt) where renewAt <= now: due.append((name, false))
                case .failed(let retryAt, _) where retryAt <= now: due.append((name, false))
                default: continue
                }
                n[name] = .ordering
                running += 1
            }
            return due
        }
    }

    func obtain(_ name: String, firstLook: Bool, client: ACMEClient, solver: RelayChallengeSolver) async {
        let previous = names.withLockedValue { n -> Int in
            if case .failed(_, let attempts) = n[name] ?? .new { return attempts }
            return 0
        }
        if firstLook {
            if skip(name) {
                return set(name, .external)
            }
            if let stored = files.certificate(for: name), stored.notAfter > Date() {
                store.install(stored, for: [name])
                let renewAt = Self.renewalTime(notBefore: stored.notBefore, notAfter: stored.notAfter)
                logger.info("certificate loaded from the state directory", metadata: ["hostname": "\(name)", "notAfter": "\(stored.notAfter)", "renewAt": "\(renewAt)", "sha256": "\(stored.fingerprint)"])
                return set(name, .valid(renewAt: renewAt))
            }
            if store.certificate(forServerName: name) != nil {
                // The operator's own certificate (--tls-cert, a rule's certFile) covers it.
                return set(name, .external)
            }
        }
        do {
            if files.accountURL == nil {
                let url = try await client.account(email: settings.email)
                try files.saveAccountURL(url)
            }
            logger.info("ordering a certificate", metadata: ["hostname": "\(name)"])
            let key = P256.Signing.PrivateKey()
            let issued = try await client.issue(names: [name], certificateKey: key, solver: solver)
            try files.save(chainPEM: issued.chainPEM, keyPEM: key.pemRepresentation, for: name)
            let serving = try ServingCertificate(chainPEM: issued.chainPEM, keyPEM: key.pemRepresentation)
            store.install(serving, for: [name])
            var renewAt = issued.renewalTime(now: Date())
            if let window = try? await client.renewalInfo(for: issued) { renewAt = window.renewalTime(now: Date()) }
            logger.info("certificate issued", metadata: ["hostname": "\(name)", "notAfter": "\(serving.notAfter)", "renewAt": "\(renewAt)", "sha256": "\(serving.fingerprint)"])
            set(name, .valid(renewAt: renewAt))
            Self.ordered("issued")
        } catch {
            Self.ordered("failed")
            let attempts = previous + 1
            let delay = Self.retryDelay(attempt: attempts, base: settings.retryDelay, cap: settings.maxRetryDelay)
            logger.warning("certificate order failed; retrying later", metadata: ["hostname": "\(name)", "error": "\(error)", "attempt": "\(attempts)", "retry_s": "\(delay.components.seconds)"])
            set(name, .failed(retryAt: Date().addingTimeInterval(Double(delay.components.seconds)), attempts: attempts))
        }
    }

    /// `tunnel_acme_orders_total{result}` (counter): certificate orders, `issued` or `failed`
    /// (each retry counts again). Made when counted: orders are rare.
    static func ordered(_ result: String) {
        Counter(label: "tunnel_acme_orders_total", dimensions: [("result", result)]).increment()
    }

    private func set(_ name: String, _ state: NameState) {
        names.withLockedValue { $0[name] = state }
    }

    /// A third of the lifetime before expiry (30 days of Let's Encrypt's 90).
    static func renewalTime(notBefore: Date, notAfter: Date) -> Date {
        notAfter.addingTimeInterval(-notAfter.timeIntervalSince(notBefore) / 3)
    }

    /// `base`, doubled for each further failure, never above `cap`.
    static func retryDelay(attempt: Int, base: Duration, cap: Duration) -> Duration {
        let factor = 1 << min(max(attempt - 1, 0), 20)
        return min(base * factor, cap)
    }
}
