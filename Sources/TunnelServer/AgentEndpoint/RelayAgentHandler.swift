import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Shared
import TunnelProtocol

/// The relay's agent endpoint (`tunnel` handler): each accepted connection (TLS, terminated by
/// the listener) becomes a Mux session. The agent's first stream is its control stream: its OPEN
/// metadata is the hello (token, tunnels); the relay answers one JSON line and, on success, routes
/// public connections of those tunnels to this session until it ends.
public struct RelayAgentHandler: StreamHandler {
    public let directory: any TunnelDirectory
    /// The tokens in force at this moment (a reload may replace them).
    public let policySource: @Sendable () -> TokenPolicy
    public var policy: TokenPolicy { policySource() }
    public let limiter: FailureLimiter
    public let muxConfiguration: MuxConfiguration
    public let ports: RemotePorts?
    /// A session whose agent has not registered by then is closed (and counts as a failure).
    public let registrationTimeout: TimeAmount

    /// With no tokens configured the relay accepts any agent, as GOST does.
    public init(directory: any TunnelDirectory, policy: TokenPolicy, limiter: FailureLimiter = FailureLimiter(), ports: RemotePorts? = nil, muxConfiguration: MuxConfiguration = .tunnel, registrationTimeout: TimeAmount = RelayDefaults.registrationTimeout) {
        self.init(directory: directory, policySource: { policy }, limiter: limiter, ports: ports, muxConfiguration: muxConfiguration, registrationTimeout: registrationTimeout)
    }

    /// As above, with the tokens read afresh at every connection (`TokenPolicyBox`).
    public init(directory: any TunnelDirectory, policySource: @escaping @Sendable () -> TokenPolicy, limiter: FailureLimiter = FailureLimiter(), ports: RemotePorts? = nil, muxConfiguration: MuxConfiguration = .tunnel, registrationTimeout: TimeAmount = RelayDefaults.registrationTimeout) {
        self.directory = directory
        self.policySource = policySource
        self.limiter = limiter
        self.ports = ports
        self.muxConfiguration = muxConfiguration
        self.registrationTimeout = registrationTimeout
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let channel = io.channel
        let directory = self.directory
        let policy = self.policy
        let limiter = self.limiter
        let ports = self.ports
        let logger = context.logger
        let peer = channel.remoteAddress.map { "\($0)" } ?? "?"
        let source = channel.remoteAddress?.ipAddress ?? "?"
        // A blocked address where no token ever registered is turned away at once; one shared
        // with good agents is let through to its hello, where only their tokens are admitted.
        guard !limiter.isBlocked(source) || limiter.hasGoodTokens(source) else {
            AgentEndpointMetrics.refused(.addressBlocked)
            logger.info("agent refused: too many failed registrations from this address", metadata: ["agent": "\(peer)"])
            throw EngineError(.notAllowed, "too many failed registrations from \(source)")
        }
        _ = try await Self.startSession(
            io, peer: peer, directory: directory, ports: ports, muxConfiguration: muxConfiguration,
            registrationTimeout: registrationTimeout, logger: logger,
            refusal: { hello in
                if limiter.isBlocked(source, principal: policy.principal(of: hello.token)) {
                    AgentEndpointMetrics.refused(.addressBlocked)
                    return "too many failed registrations from \(source)"
                }
                for claim in hello.tunnels {
                    for host in claim.hostnames ?? [] where directory.staticConflict(host, tunnel: claim.id) != nil {
                        AgentEndpointMetrics.refused(.hostnameConflict)
                        return "hostname \(host) is routed to another tunnel by the relay's configuration"
                    }
                }
                let refusal = policy.refusal(for: hello)
                if let refusal { AgentEndpointMetrics.refused(AgentEndpointMetrics.reason(ofPolicyRefusal: refusal)) }
                return refusal
            },
            onFailure: { limiter.recordFailure(source) },
            onSuccess: { hello in limiter.recordSuccess(source, principal: policy.principal(of: hello.token)) },
            visitorPolicies: { hello in try policy.visitorPolicies(for: hello) },
            principal: { hello in policy.principal(of: hello.token) })
    }

    /// Turns a connection whose transport is ready (TLS terminated, or a SOCKS5 private command
    /// answered) into the relay's side of an agent session: a Mux responder whose first stream is
    /// the agent's control stream. `refusal` decides a hello (nil = accepted; else the reason, for
    /// the log only); `onFailure` counts a malformed or refused hello, and a session that has not
    /// registered within `registrationTimeout` (it is closed then: a connection that never says
    /// hello must not hold a session). The session's end withdraws its tunnels and closes their
    /// ports. Once the session goes away (SIGHUP, shutdown) the relay closes the control stream, so
    /// the session ends when its last data stream does.
    static func startSession(
        _ io: Handshake, peer: String, directory: any TunnelDirectory, ports: RemotePorts?, muxConfiguration: MuxConfiguration,
        registrationTimeout: TimeAmount = RelayDefaults.registrationTimeout, logger: Logger, refusal: @escaping @Sendable (TunnelMessages.Hello) -> String?, onFailure: @escaping @Sendable () -> Void,
        onSuccess: @escaping @Sendable (TunnelMessages.Hello) -> Void = { _ in },
        visitorPolicies: @escaping @Sendable (TunnelMessages.Hello) throws -> [String: [VisitorPolicy]] = { _ in [:] },
        principal: @escaping @Sendable (TunnelMessages.Hello) -> String? = { _ in nil }
    ) async throws -> MuxSession {
        let channel = io.channel
        let sessionBox = ControlSlot()
        // Armed on the loop below; cancelled by a successful registration.
        let deadline = NIOLockedValueBox<Scheduled<Void>?>(nil)
        let configuration = muxConfiguration
        let reader = io.readerForLoop
        let session = try await channel.eventLoop.submit {
          // A session ends with its transport: an agent's FIN (a killed agent) must close it, not
          // leave it half-open, so remote half-closure is off for this connection.
          try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
          // Set the box on the loop, before any stream of the agent can be read.
          let session = try channel.pipeline.syncOperations.addMuxSession(
            role: .responder, configuration: configuration, logger: logger,
            inboundStreamInitializer: { stream, metadata in
                // Only the control stream is opened by agents; anything after a hello is refused.
                guard let session = sessionBox.value, sessionBox.claimControl() else {
                    return stream.eventLoop.makeFailedFuture(EngineError(.notAllowed, "agents open only one control stream"))
                }
                let hello: TunnelMessages.Hello
                do {
                    hello = try TunnelMessages.decode(TunnelMessages.Hello.self, from: metadata)
                } catch {
                    onFailure()
                    AgentEndpointMetrics.registered(.malformed)
                    logger.info("agent refused: malformed hello", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "malformed hello"), thenClose: true)
                }
                if let bad = hello.tunnels.first(where: { !(1...TunnelMessages.TunnelClaim.exclusiveWeight).contains($0.weight ?? 1) }) {
                    AgentEndpointMetrics.registered(.malformed)
                    logger.info("agent refused: weight \(bad.weight ?? 1) of tunnel \(bad.id) is outside 1-255", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "weight must be 1-255"), thenClose: true)
                }
                if let reason = refusal(hello) {
                    // The same answer for a wrong token, an unknown tunnel and a claim outside the
                    // token's rights: nothing to enumerate. The log has the precise reason.
                    onFailure()
                    AgentEndpointMetrics.registered(.refused)
                    logger.info("agent refused: bad token or claim: \(reason)", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "unauthorized"), thenClose: true)
                }
                if let reason = directory.claimsUnavailable() {
                    AgentEndpointMetrics.registered(.refused)
                    logger.warning("agent refused for now: \(reason)", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "unavailable: \(reason)"), thenClose: true)
                }
                // The tunnels' own visitor policies (token, agent), in place before any port opens.
                let layers: [String: [VisitorPolicy]]
                do {
                    layers = try visitorPolicies(hello)
                } catch {
                    AgentEndpointMetrics.registered(.refused)
                    logger.info("agent refused: \(error)", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "\(error)"), thenClose: true)
                }
                for claim in hello.tunnels { directory.setPolicies(layers[claim.id] ?? [], forTunnel: claim.id) }
                // Ports first: a claim that cannot be served is refused whole, with the reason.
                var opened: [EventLoopFuture<Void>] = []
                let created = NIOLockedValueBox<[(key: String, tunnel: String)]>([])
                for claim in hello.tunnels {
                    for port in claim.ports ?? [] {
                        guard let ports else {
                            opened.append(stream.eventLoop.makeFailedFuture(EngineError(.notAllowed, "this relay opens no ports")))
                            continue
                        }
                        opened.append(ports.claim(port, tunnel: claim.id, on: stream.eventLoop) { key in created.withLockedValue { $0.append((key, claim.id)) } })
                    }
                    for port in claim.udpPorts ?? [] {
                        guard let ports else {
                            opened.append(stream.eventLoop.makeFailedFuture(EngineError(.notAllowed, "this relay opens no ports")))
                            continue
                        }
                        opened.append(ports.claimUDP(port, tunnel: claim.id, on: stream.eventLoop) { key in created.withLockedValue { $0.append((key, claim.id)) } })
                    }
                }
                // Every bind settles before the outcome is decided, so none finishes after a
                // refusal has undone the others.
                let settled = EventLoopFuture.whenAllComplete(opened, on: stream.eventLoop).flatMapThrowing { results in
                    for case .failure(let error) in results { throw error }
                }
                return settled.flatMap {
                    for claim in hello.tunnels {
                        directory.claim(session, tunnel: claim.id, hostnames: claim.hostnames ?? [], weight: claim.weight ?? 1)
                    }
                    deadline.withLockedValue { $0?.cancel() }
                    onSuccess(hello)
                    AgentEndpointMetrics.registered(.ok)
                    directory.agents.describe(session) { info in
                        info.software = hello.agent.map { String($0.prefix(64)) }
                        info.principal = principal(hello)
                        info.tunnels = hello.tunnels.map(\.id)
                    }
                    logger.info("agent registered", metadata: ["agent": "\(peer)", "tunnels": "\(hello.tunnels.map(\.id))"])
                    // Closing the control stream withdraws the agent.
                    stream.closeFuture.whenComplete { _ in session.goAway(reason: "control stream closed") }
                    // A session going away keeps only its data streams: without the control
                    // stream it closes when the last of them finishes.
                    session.goAwayFuture.whenSuccess { _ in stream.close(promise: nil) }
                    return Self.answer(stream, .init(ok: true), thenClose: false)
                }.flatMapError { error in
                    // A claim refused whole opens nothing: the ports this attempt bound close
                    // again (those it joined stay with the sessions that hold them).
                    for (key, tunnel) in created.withLockedValue({ $0 }) {
                        ports?.release(key: key, tunnel: tunnel)
                    }
                    AgentEndpointMetrics.registered(.refused)
                    logger.info("agent refused: \(error)", metadata: ["agent": "\(peer)"])
                    return Self.answer(stream, .init(ok: false, error: "\(error)"), thenClose: true)
                }
            },
            // Replies count only on the flows given to this very session (checked in the table).
            datagramHandler: { flowID, payload in
                guard let session = sessionBox.value else { return }
                ports?.flows.fromAgent(flowID: flowID, payload: payload, session: session)
            })
          sessionBox.value = session
          // Listed before any of its streams is read, so its hello finds it there (the API
          // shows what the agent said).
          directory.agents.add(session)
          let timeout = registrationTimeout
          deadline.withLockedValue {
              $0 = channel.eventLoop.scheduleTask(in: timeout) {
                  onFailure()
                  AgentEndpointMetrics.registered(.timeout)
                  logger.info("agent session closed: no registration within \(timeout.nanoseconds / 1_000_000) ms", metadata: ["agent": "\(peer)"])
                  _ = session.close()
              }
          }
          // The agent's first bytes (the Mux preface) wait in the handshake reader: hand them over.
          _ = channel.pipeline.syncOperations.removeHandler(reader.value)
          return session
        }.get()
        let open = AgentEndpointMetrics.sessions()
        open.increment()
        session.closeFuture.whenComplete { _ in
            open.decrement()
            deadline.withLockedValue { $0?.cancel() }
            for tunnel in directory.withdraw(session) { ports?.release(tunnel: tunnel) }
            logger.info("agent session ended", metadata: ["agent": "\(peer)"])
        }
        return session
    }

    static func answer(_ stream: Channel, _ reply: TunnelMessages.Reply, thenClose: Bool) -> EventLoopFuture<Void> {
        var encoded = TunnelMessages.encode(reply)
        encoded.writeString("\n")
        let line = encoded
        // After the stream is active: the initializer runs before that.
        stream.eventLoop.execute {
            stream.writeAndFlush(line).whenComplete { _ in
                if thenClose { stream.close(promise: nil) }
            }
        }
        return stream.eventLoop.makeSucceededVoidFuture()
    }
}
