import Foundation
import Logging
import NIOCore
import NIOPosix

/// The relay's one decision point for visitors: every HTTP request (HTTP/1, each h2 stream) and
/// every connection or UDP peer (TLS passthrough, TCP entrypoints, rtcp, rudp) is put to it before
/// any stream to the agent is opened, with the policies of where it goes (`IngressRoute.layers`:
/// the rule's, the tunnel's token's, the agent's). It checks, for every layer, the visitor's
/// layer-4 address against the IP lists and the rate limit; then the credentials, by the first
/// layer that asks for any; every refusal is logged with the rule and the reason and counted by
/// reason (`PolicyCounters`).
///
/// Why one place: peers that checked policy in several (frp routed by one header and checked
/// another; chisel checked its ACL only at the handshake) let requests through the gaps. Here the
/// entrypoints only ask and obey.
final class VisitorGate: Sendable {
    let limiter: RateLimiter
    let connections: ConnectionCounter
    let counters: PolicyCounters
    /// Where passwords are hashed (never on an event loop).
    let pool: NIOThreadPool
    private let label: String
    private var logger: Logger { Logger(label: label) }

    init(pool: NIOThreadPool = .singleton, loggerLabel: String = "tunnel-server.policy") {
        self.limiter = RateLimiter()
        self.connections = ConnectionCounter()
        self.counters = PolicyCounters()
        self.pool = pool
        self.label = loggerLabel
    }

    /// What a request shows the gate: where it comes from and its header fields.
    struct Request {
        var source: SocketAddress?
        var host: String
        /// The first value of a field, by lowercased name.
        var field: (String) -> String?
    }

    /// The verdict on one HTTP request for `tunnel` under `layers` (`IngressRoute.layers`).
    func admit(_ request: Request, tunnel: String, layers: [VisitorPolicy], now: NIODeadline = .now()) -> Admission {
        guard !layers.isEmpty else { return .pass(.none) }
        for layer in layers {
            if let refusal = checkAddress(request.source, layer, tunnel: tunnel, layers: layers, now: now, host: request.host) { return .refuse(refusal) }
        }
        let rewrite = RequestRewrite.merged(layers)
        // The relay's own layers come first: an agent's credentials count only where the
        // operator asked for none.
        guard let policy = layers.first(where: \.requiresCredentials) else { return .pass(rewrite) }
        let authorization = request.field("authorization")
        var reason = authorization == nil ? "no_credentials" : "bad_credentials"
        if let bearer = policy.bearer, let token = authorization.flatMap(BearerTokens.token(fromAuthorization:)) {
            if bearer.accepts(token) { return .pass(rewrite) }
            reason = "bad_bearer_token"
        }
        if let jwt = policy.jwt, let token = jwt.settings.token(in: request.field) {
            switch jwt.verify(token) {
            case .success: return .pass(rewrite)
            case .failure(let refusal): reason = "jwt_\(refusal.reason)"
            }
        }
        if let users = policy.basicAuth, let (user, password) = authorization.flatMap(BasicAuthUsers.credentials(fromAuthorization:)) {
            switch users.quickCheck(user: user, password: password) {
            case true?: return .pass(rewrite)
            case false?: reason = "bad_password"
            case nil:
                let pool = self.pool
                let source = request.source
                let host = request.host
                return .verify(
                    CredentialCheck(
                        run: { [self] eventLoop in
                            users.check(user: user, password: password, pool: pool, eventLoop: eventLoop).map { ok in
                                if !ok { self.refused("bad_password", policy: policy, source: source, host: host) }
                                return ok
                            }
                        }, label: "basic:\(user)", rewrite: rewrite, refusal: unauthorized(policy, layers: layers)))
            }
        }
        refused(reason, policy: policy, source: request.source, host: request.host)
        return .refuse(unauthorized(policy, layers: layers))
    }

    /// What a connection (or UDP peer) gets: refused, or admitted with the leases that count it
    /// against `maxConnections` (held until it closes) and the bandwidth budgets that pace it.
    enum ConnectionAdmission {
        case pass(Grant)
        case refuse(reason: String)
    }

    /// What an admitted connection holds.
    struct Grant {
        var leases: [ConnectionCounter.Lease] = []
        var budgets: [BandwidthBudget] = []

        /// Gives the places back (once the connection is over).
        func release() {
            for lease in leases { lease.release() }
        }
    }

    /// The verdict on a connection to `tunnel` under `layers`: the IP lists and the rate limit of
    /// every layer (a connection counts as a request), then the connection limits.
    func admitConnection(source: SocketAddress?, tunnel: String, layers: [VisitorPolicy], host: String? = nil, now: NIODeadline = .now()) -> ConnectionAdmission {
        guard !layers.isEmpty else { return .pass(Grant()) }
        for layer in layers {
            if let refusal = checkAddress(source, layer, tunnel: tunnel, layers: layers, now: now, host: host) { return .refuse(reason: refusal.message) }
        }
        switch leases(tunnel: tunnel, layers: layers, source: source, host: host) {
        case .success(let leases): return .pass(Grant(leases: leases, budgets: layers.compactMap(\.bandwidth)))
        case .failure(let refusal): return .refuse(reason: refusal.message)
        }
    }

    /// A place among the tunnel's connections under every layer's `maxConnections`, or the 503
    /// that says one is full (nothing held then).
    func leases(tunnel: String, layers: [VisitorPolicy], source: SocketAddress?, host: String?) -> Result<[ConnectionCounter.Lease], Refusal> {
        var held: [ConnectionCounter.Lease] = []
        for layer in layers {
            guard let max = layer.maxConnections else { continue }
            guard let lease = connections.acquire("\(tunnel)|\(layer.label)", limit: max) else {
                for lease in held { lease.release() }
                refused("too_many_connections", policy: layer, source: source, host: host)
                return .failure(
                    refusal(503, "Service Unavailable", "the service has \(max) connections open, its limit", layers: layers, headers: [.init(name: "Retry-After", value: "1")]))
            }
            held.append(lease)
        }
        return .success(held)
    }

    // MARK: the checks

    /// One layer's IP lists, then its rate limit: nil when the address may go on.
    private func checkAddress(_ source: SocketAddress?, _ policy: VisitorPolicy, tunnel: String, layers: [VisitorPolicy], now: NIODeadline, host: String?) -> Refusal? {
        if let access = policy.access, !access.admits(source) {
            refused("ip_denied", policy: policy, source: source, host: host)
            return refusal(403, "Forbidden", "your address may not reach this service", layers: layers)
        }
        if let rate = policy.rate, case .limited(let retryAfter) = limiter.take(key: "\(policy.label)|\(tunnel)", limit: rate, address: source, now: now) {
            refused("rate_limited", policy: policy, source: source, host: host)
            return refusal(
                429, "Too Many Requests", "too many requests from your address; retry in \(retryAfter) s", layers: layers, headers: [.init(name: "Retry-After", value: "\(retryAfter)")])
        }
        return nil
    }

    private func unauthorized(_ policy: VisitorPolicy, layers: [VisitorPolicy]) -> Refusal {
        var challenges: [HeaderEdits.Field] = []
        if policy.basicAuth != nil {
            let realm = policy.realm.replacingOccurrences(of: "\"", with: "")
            challenges.append(.init(name: "WWW-Authenticate", value: "Basic realm=\"\(realm)\", charset=\"UTF-8\""))
        }
        if policy.bearer != nil || policy.jwt != nil { challenges.append(.init(name: "WWW-Authenticate", value: "Bearer")) }
        return refusal(401, "Unauthorized", "this service asks for credentials", layers: layers, headers: challenges)
    }

    /// The refusal, with the first layer's own page for that status.
    private func refusal(_ status: Int, _ reason: String, _ message: String, layers: [VisitorPolicy], headers: [HeaderEdits.Field] = []) -> Refusal {
        Refusal(status: status, reason: reason, message: message, headers: headers, page: layers.lazy.compactMap { $0.errorPages[status] }.first)
    }

    /// Logs and counts one refusal.
    func refused(_ reason: String, policy: VisitorPolicy, source: SocketAddress?, host: String?) {
        counters.refused(reason: reason, rule: policy.label)
        logger.info(
            "visitor refused",
            metadata: ["rule": "\(policy.label)", "reason": "\(reason)", "client": "\(source.map { "\($0)" } ?? "?")", "host": "\(host ?? "")"])
    }
}
