import Foundation
import Logging
import NIOCore
import NIOPosix

/// The relay's one decision point for visitors: every HTTP request (HTTP/1, each h2 stream) and
/// every connection or UDP peer (TLS passthrough, TCP entrypoints, rtcp, rudp) is put to it before
/// any stream to the agent is opened, with the policy of the rule (or tunnel) it routes to. It
/// checks, in this order, the visitor's layer-4 address against the IP lists, the rate limit, and
/// the credentials; every refusal is logged with the rule and the reason and counted by reason.
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

    /// The verdict on one HTTP request routed to a rule with `policy` (nil: no policy, passed).
    func admit(_ request: Request, policy: VisitorPolicy?, now: NIODeadline = .now()) -> Admission {
        guard let policy else { return .pass(.none) }
        if let refusal = checkAddress(request.source, policy: policy, now: now, host: request.host) { return .refuse(refusal) }
        guard policy.requiresCredentials else { return .pass(policy.rewrite) }
        let authorization = request.field("authorization")
        var reason = authorization == nil ? "no_credentials" : "bad_credentials"
        if let bearer = policy.bearer, let token = authorization.flatMap(BearerTokens.token(fromAuthorization:)) {
            if bearer.accepts(token) { return .pass(policy.rewrite) }
            reason = "bad_bearer_token"
        }
        if let jwt = policy.jwt, let token = jwt.settings.token(in: request.field) {
            switch jwt.verify(token) {
            case .success: return .pass(policy.rewrite)
            case .failure(let refusal): reason = "jwt_\(refusal.reason)"
            }
        }
        if let users = policy.basicAuth, let (user, password) = authorization.flatMap(BasicAuthUsers.credentials(fromAuthorization:)) {
            let refusal = unauthorized(policy)
            switch users.quickCheck(user: user, password: password) {
            case true?: return .pass(policy.rewrite)
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
                        }, label: "basic:\(user)", rewrite: policy.rewrite, refusal: refusal))
            }
        }
        refused(reason, policy: policy, source: request.source, host: request.host)
        return .refuse(unauthorized(policy))
    }

    /// What a connection (or UDP peer) of `tunnel` gets: refused, or admitted with the lease that
    /// counts it against `maxConnections` (held until it closes) and the tunnel's bandwidth budget.
    enum ConnectionAdmission {
        case pass(lease: ConnectionCounter.Lease?, budget: BandwidthBudget?)
        case refuse(reason: String)
    }

    /// The verdict on a connection routed to `tunnel` under `policy`: the IP lists, the rate limit
    /// (a connection counts as a request) and the connection limit.
    func admitConnection(source: SocketAddress?, tunnel: String, policy: VisitorPolicy?, host: String? = nil, now: NIODeadline = .now()) -> ConnectionAdmission {
        guard let policy else { return .pass(lease: nil, budget: nil) }
        if let refusal = checkAddress(source, policy: policy, now: now, host: host) { return .refuse(reason: refusal.message) }
        switch lease(tunnel: tunnel, policy: policy, source: source, host: host) {
        case .success(let lease): return .pass(lease: lease, budget: policy.bandwidth)
        case .failure(let refusal): return .refuse(reason: refusal.message)
        }
    }

    /// A place among `tunnel`'s connections under `policy.maxConnections` (nil lease: no limit),
    /// or the 503 that says it is full.
    func lease(tunnel: String, policy: VisitorPolicy?, source: SocketAddress?, host: String?) -> Result<ConnectionCounter.Lease?, Refusal> {
        guard let policy, let max = policy.maxConnections else { return .success(nil) }
        if let lease = connections.acquire(tunnel, limit: max) { return .success(lease) }
        refused("too_many_connections", policy: policy, source: source, host: host)
        return .failure(
            refusal(503, "Service Unavailable", "the tunnel has \(max) connections open, its limit", policy: policy, headers: [.init(name: "Retry-After", value: "1")]))
    }

    // MARK: the checks

    /// The IP lists, then the rate limit: nil when the address may go on.
    private func checkAddress(_ source: SocketAddress?, policy: VisitorPolicy, now: NIODeadline, host: String?) -> Refusal? {
        if let access = policy.access, !access.admits(source) {
            refused("ip_denied", policy: policy, source: source, host: host)
            return refusal(403, "Forbidden", "your address may not reach this service", policy: policy)
        }
        if let rate = policy.rate, case .limited(let retryAfter) = limiter.take(key: policy.label, limit: rate, address: source, now: now) {
            refused("rate_limited", policy: policy, source: source, host: host)
            return refusal(429, "Too Many Requests", "too many requests from your address; retry in \(retryAfter) s", policy: policy, headers: [.init(name: "Retry-After", value: "\(retryAfter)")])
        }
        return nil
    }

    private func unauthorized(_ policy: VisitorPolicy) -> Refusal {
        var challenges: [HeaderEdits.Field] = []
        if policy.basicAuth != nil {
            let realm = policy.realm.replacingOccurrences(of: "\"", with: "")
            challenges.append(.init(name: "WWW-Authenticate", value: "Basic realm=\"\(realm)\", charset=\"UTF-8\""))
        }
        if policy.bearer != nil || policy.jwt != nil { challenges.append(.init(name: "WWW-Authenticate", value: "Bearer")) }
        return refusal(401, "Unauthorized", "this service asks for credentials", policy: policy, headers: challenges)
    }

    private func refusal(_ status: Int, _ reason: String, _ message: String, policy: VisitorPolicy, headers: [HeaderEdits.Field] = []) -> Refusal {
        Refusal(status: status, reason: reason, message: message, headers: headers, page: policy.errorPages[status])
    }

    /// Logs and counts one refusal.
    func refused(_ reason: String, policy: VisitorPolicy, source: SocketAddress?, host: String?) {
        counters.refused(reason: reason, rule: policy.label)
        logger.info(
            "visitor refused",
            metadata: ["rule": "\(policy.label)", "reason": "\(reason)", "client": "\(source.map { "\($0)" } ?? "?")", "host": "\(host ?? "")"])
    }
}
