import Logging
import Mux
import Operations
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Shared
import TunnelProtocol

/// The agent: keeps sessions to the relay open, registers its tunnels on each, and joins every
/// stream the relay opens to the tunnel's local target. Reconnects with capped exponential backoff
/// and jitter, so a relay restart brings it back without a reconnect storm.
public struct TunnelClient: Service {
    public let configuration: TunnelClientConfiguration
    public let logger: Logger
    let group: EventLoopGroup

    public init(configuration: TunnelClientConfiguration, logger: Logger, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        let registered = NIOLockedValueBox(false)
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { tasks in
                for index in 0..<max(1, configuration.sessions) {
                    tasks.addTask { try await keepSession(index, registered: registered) }
                }
            }
        }
    }

    /// One session slot: connect, serve until the session ends, back off, again, until cancelled.
    /// When the relay goes away on the session (it drains: SIGHUP, restart), the slot opens a new
    /// session at once, so it stays usable, while the old one keeps carrying its open streams
    /// until they finish.
    ///
    /// A refusal of the very first registration (a wrong token, a claim outside its rights) ends
    /// the agent with that reason, as frp's client does: retrying cannot fix a configuration, and
    /// a retrying agent would only trip the relay's per-address failure limit for its neighbours.
    /// Once the agent has been registered, refusals are retried (a relay mid-restart, a port not
    /// yet released).
    func keepSession(_ index: Int, registered: NIOLockedValueBox<Bool>) async throws {
        var backoff = TimeAmount.milliseconds(250)
        let draining = LiveSessions()
        defer { draining.closeAll() }
        let metrics = AgentMetrics.shared
        var first = true
        while !Task.isCancelled {
            let loop = group.next()
            if !first { metrics.reconnecting() }
            first = false
            do {
                let session: MuxSession
                do {
                    session = try await connect(on: loop)
                } catch {
                    metrics.registered(error is RegistrationRefused ? .refused : .error)
                    throw error
                }
                metrics.registered(.ok)
                let sessions = metrics.sessions
                sessions.increment()
                session.closeFuture.whenComplete { _ in sessions.decrement() }
                registered.withLockedValue { $0 = true }
                let connectedAt = ContinuousClock.now
                logger.info("connected to relay", metadata: ["relay": "\(configuration.relay)", "session": "\(index)"])
                backoff = .milliseconds(250)
                // nil: the session ended without a go-away.
                let goAway: MuxGoAway? = await withTaskCancellationHandler {
                    try? await session.goAwayFuture.get()
                } onCancel: {
                    session.goAway(reason: "agent stopping")
                    _ = session.close()
                }
                if Task.isCancelled { return }
                if let goAway, goAway.origin == .peer, goAway.code == .noError {
                    draining.add(session)
                    logger.info("relay is going away on this session: opening a new session in its place; the old one finishes its streams", metadata: [
                        "relay": "\(configuration.relay)", "session": "\(index)", "reason": "\(goAway.reason)", "streams": "\(session.openStreamCount)",
                    ])
                    // At once, unless the relay turns sessions away as soon as they attach: then
                    // the backoff keeps the agent from spinning.
                    if ContinuousClock.now - connectedAt >= .seconds(1) { continue }
                } else {
                    try? await session.closeFuture.get()
                    if Task.isCancelled { return }
                    logger.warning("relay session ended", metadata: ["relay": "\(configuration.relay)", "session": "\(index)"])
                }
            } catch let refusal as RegistrationRefused where !registered.withLockedValue({ $0 }) && !refusal.isTemporary {
                logger.error("the relay refused this agent; not retrying", metadata: ["relay": "\(configuration.relay)", "reason": "\(refusal.reason)"])
                throw refusal
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot attach to relay", metadata: ["relay": "\(configuration.relay)", "error": "\(error)", "retry_ms": "\(backoff.nanoseconds / 1_000_000)"])
            }
            // Full jitter: a random wait up to the current backoff, so agents do not retry in step.
            let wait = Int64.random(in: backoff.nanoseconds / 2...backoff.nanoseconds)
            try? await Task.sleep(nanoseconds: UInt64(wait))
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
    }

    /// Dials the relay, starts a Mux session, registers the tunnels and waits for the relay's yes.
    func connect(on loop: EventLoop) async throws -> MuxSession {
        let io = try await configuration.dialer.dial(configuration.relay, on: loop, logger: logger)
        let channel = io.channel
        let reader = io.readerForLoop
        let targets = Dictionary(configuration.tunnels.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let logger = self.logger
        let mux = configuration.mux
        let observers = configuration.observers
        let udpTargets = Dictionary(
            configuration.tunnels.flatMap { t in t.remoteUDPPorts.map { ($0, t.target) } }, uniquingKeysWith: { a, _ in a })
        let session: MuxSession
        let transportError = TransportErrorRecorder()
        do {
            session = try await channel.eventLoop.submit {
                // The relay going away (FIN) ends the session, so the agent reconnects at once.
                try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
                let udp = NIOLoopBound(AgentUDPFlows(targets: udpTargets, logger: logger), eventLoop: channel.eventLoop)
                let session = try channel.pipeline.syncOperations.addMuxSession(
                    role: .initiator, configuration: mux, logger: logger,
                    inboundStreamInitializer: { stream, metadata in
                        Self.serve(stream, metadata: metadata, targets: targets, observers: observers, logger: logger)
                    },
                    datagramHandler: { flowID, payload in
                        udp.value.receive(flowID: flowID, payload: payload, on: udp.eventLoop)
                    })
                udp.value.session = session
                try channel.pipeline.syncOperations.addHandler(transportError)
                channel.closeFuture.whenComplete { _ in udp.eventLoop.execute { udp.value.closeAll() } }
                // Whatever the relay sent first waits in the reader; the session takes it from here.
                _ = channel.pipeline.syncOperations.removeHandler(reader.value)
                return session
            }.get()
        } catch {
            // The relay may have refused us (TLS alert) before the session was set up.
            let early = try? await channel.eventLoop.submit { reader.value.terminalError }.get()
            channel.close(promise: nil)
            if let early, Self.isTLSError(early) { throw Self.tlsRefusal(early) }
            throw error
        }
        let hello = TunnelMessages.Hello(token: configuration.token, tunnels: configuration.tunnels.map { .init(id: $0.id, hostnames: $0.hostnames.isEmpty ? nil : $0.hostnames, ports: $0.remotePorts.isEmpty ? nil : $0.remotePorts, udpPorts: $0.remoteUDPPorts.isEmpty ? nil : $0.remoteUDPPorts, weight: $0.weight, policy: $0.policy) }, agent: "tunnel-agent \(BuildVersion.current)")
        let reply = channel.eventLoop.makePromise(of: TunnelMessages.Reply.self)
        let timer = channel.eventLoop.scheduleTask(in: AgentDefaults.registrationReplyTimeout) {
            reply.fail(EngineError(.timeout, "relay did not answer the registration"))
        }
        do {
            _ = try await session.openStream(metadata: TunnelMessages.encode(hello)) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(ReplyLineReader(promise: reply))
                }
            }.get()
            let answer = try await reply.futureResult.get()
            timer.cancel()
            guard answer.ok else {
                throw RegistrationRefused(reason: answer.error ?? "no reason given")
            }
            if let observers {
                observers.sessions.add(session)
                let tunnels = configuration.tunnels.map(\.id)
                observers.sessions.describe(session) { $0.tunnels = tunnels }
            }
        } catch {
            timer.cancel()
            reply.fail(error)
            _ = session.close()
            // With TLS 1.3 a relay that refuses our client certificate (none, or not from its
            // CA) says so after our side of the handshake finished: report that, not its effect.
            if let tls = transportError.error { throw Self.tlsRefusal(tls) }
            throw error
        }
        return session
    }

    static func isTLSError(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError
    }

    static func tlsRefusal(_ error: any Error) -> EngineError {
        EngineError(.connectFailed, "the relay refused the TLS connection: \(error) (a relay closes it right after the handshake when it requires a client certificate this agent lacks or has from another CA: check --cert/--key; or when this address failed to register too often: wait a minute)")
    }

    /// A stream from the relay: join it to its tunnel's local target, or refuse it.
    static func serve(
        _ stream: Channel, metadata: ByteBuffer, targets: [String: TunnelClientConfiguration.Tunnel], observers: AgentObservers? = nil, logger: Logger
    ) -> EventLoopFuture<Void> {
        let header: TunnelMessages.StreamHeader
        do {
            header = try TunnelMessages.decode(TunnelMessages.StreamHeader.self, from: metadata)
        } catch {
            return stream.eventLoop.makeFailedFuture(EngineError(.protocolViolation, "malformed stream header"))
        }
        guard let tunnel = targets[header.tunnel] else {
            logger.warning("stream for a tunnel this agent does not serve", metadata: ["tunnel": "\(header.tunnel)"])
            return stream.eventLoop.makeFailedFuture(EngineError(.notAllowed, "unknown tunnel \(header.tunnel)"))
        }
        let target = tunnel.target
        let proxyHeader = tunnel.proxyProtocol.map { ProxyProtocol.header($0, source: header.client, destination: header.server) }
        do {
            try stream.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            try stream.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
        } catch {
            return stream.eventLoop.makeFailedFuture(error)
        }
        if let accept = tunnel.accept {
            // A listener's connection: read through a handshake reader until its handler splices it.
            return stream.eventLoop.makeCompletedFuture {
                let reader = HandshakeReader()
                try stream.pipeline.syncOperations.addHandler(reader)
                let io = Handshake(channel: stream, reader: reader)
                Task { await accept(io) }
            }
        }
        let metrics = AgentMetrics.shared
        let dialing = NIODeadline.now()
        return TCPDialer().connect(target, on: stream.eventLoop)
            .flatMapThrowing { local in
                metrics.dialed(after: .now() - dialing)
                do {
                    // The PROXY header goes first, before any byte of the client's.
                    if let proxyHeader { local.write(proxyHeader, promise: nil) }
                    try stream.pipeline.syncOperations.addHandler(
                        StreamCountingHandler(series: metrics.streams.series(tunnel: header.tunnel), reads: .inward), position: .first)
                    // The inspector's tap sits before the glue: it sees the stream's bytes both ways.
                    if let observers, observers.isActive {
                        try stream.pipeline.syncOperations.addHandler(
                            StreamTapHandler(observers: observers, tunnel: header.tunnel, host: header.host, client: header.client))
                    }
                    try GlueHandler.join(stream, local)
                } catch {
                    local.close(promise: nil)
                    throw error
                }
                logger.debug("tunnel stream joined", metadata: ["tunnel": "\(header.tunnel)", "client": "\(header.client ?? "")", "target": "\(target)"])
            }
            .flatMapErrorThrowing { error in
                metrics.dialFailed(tunnel: header.tunnel)
                logger.warning("local target unreachable", metadata: ["tunnel": "\(header.tunnel)", "target": "\(target)", "error": "\(error)"])
                throw error
            }
    }
}
