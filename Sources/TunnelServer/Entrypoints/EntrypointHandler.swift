import Logging
import Mux
import NIOCore
import Operations
import Shared
import TunnelProtocol

/// The relay's public entrypoint: one port for HTTP (routed by `Host`) and TLS (routed by the
/// ClientHello, see `TLSRoute`: terminated here with the hostname's certificate, passed through
/// to the agent by SNI, or handed to the agent endpoint), told apart by the first byte as GOST
/// does. The HTTPS port (`tlsOnly`) is the same minus plain HTTP. A passed-through connection is
/// carried as one Mux stream of an agent session that serves the tunnel; HTTP requests each on
/// theirs (`HTTPIngressHandler`).
public struct EntrypointHandler: StreamHandler {
    public let directory: any TunnelDirectory
    /// A plain TCP entrypoint: every connection goes to this tunnel, bytes untouched.
    public let fixedTunnel: String?

    /// HTTP: how long a connection may idle between requests, or take to send a head.
    public let idleTimeout: TimeAmount
    /// HTTP: how long a request head may take from its first byte, however slowly it dribbles.
    public let headTimeout: TimeAmount

    /// Where agents that come in on this port (TLS with the agents' ALPN) are handed over.
    public let agents: AgentAttachPoint?
    /// Certificates and HTTPS defaults; nil: every TLS connection is passed through by SNI.
    public let https: HTTPSSettings?
    /// The HTTPS port: TLS only (plain HTTP is answered 400).
    public let tlsOnly: Bool
    /// The visitor policy's decision point, asked for every request and connection.
    let gate: VisitorGate?
    /// Per-tunnel totals and the request inspector.
    let observers: RelayObservers?
    /// Load balancers in front of this port: a connection from one starts with a PROXY protocol
    /// header naming the visitor, whose address then counts (policy, `X-Forwarded-For`, the stream
    /// header). From anyone else no header is read.
    let trustedProxies: TrustedProxies

    public init(
        directory: any TunnelDirectory, fixedTunnel: String? = nil, idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, headTimeout: TimeAmount = RelayDefaults.httpHeadTimeout,
        agents: AgentAttachPoint? = nil, https: HTTPSSettings? = nil, tlsOnly: Bool = false
    ) {
        self.init(directory: directory, fixedTunnel: fixedTunnel, idleTimeout: idleTimeout, headTimeout: headTimeout, agents: agents, https: https, tlsOnly: tlsOnly, gate: nil)
    }

    init(
        directory: any TunnelDirectory, fixedTunnel: String? = nil, idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, headTimeout: TimeAmount = RelayDefaults.httpHeadTimeout,
        agents: AgentAttachPoint? = nil, https: HTTPSSettings? = nil, tlsOnly: Bool = false, gate: VisitorGate?, trustedProxies: TrustedProxies = TrustedProxies(),
        observers: RelayObservers? = nil
    ) {
        self.gate = gate
        self.observers = observers
        self.trustedProxies = trustedProxies
        self.directory = directory
        self.agents = agents
        self.https = https
        self.tlsOnly = tlsOnly
        self.fixedTunnel = fixedTunnel.flatMap { $0.isEmpty ? nil : $0 }
        self.idleTimeout = idleTimeout
        self.headTimeout = headTimeout
    }


    enum Route: Sendable {
        case http
        case tls(ClientHello.Peek)
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let peer = try await visitorAddress(io)
        if let tunnel = fixedTunnel {
            guard let session = directory.session(for: tunnel, near: io.channel.eventLoop) else {
                throw EngineError(.connectFailed, "TCP entrypoint: tunnel \(tunnel) has no agent")
            }
            let grant = try await admit(io, peer: peer, tunnel: tunnel, layers: directory.policies(forTunnel: tunnel), host: nil) {}
            let header = TunnelMessages.StreamHeader(
                tunnel: tunnel, client: peer.map { "\($0.hostPort)" }, host: nil, server: io.channel.localAddress.map { "\($0.hostPort)" })
            return try await Self.forward(io, session: session, header: header, directory: directory, logger: context.logger, budgets: grant.budgets, traffic: observers?.traffic)
        }
        let route = try await io.read { buffer -> Route? in
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            guard first == 0x16 else { return .http }
            let peek = ClientHello.peek(buffer)
            if peek == .needMore {
                if buffer.readableBytes > ClientHello.maxRecord { return .tls(.noServerName) }
                return nil
            }
            return .tls(peek)
        }
        let client = peer.map { "\($0.hostPort)" }
        switch route {
        case .tls(let peek):
            guard case .hello(let hello) = peek else {
                try? await io.write(ClientHello.unrecognizedNameAlert)
                throw EngineError(.notAllowed, "TLS entrypoint: not a ClientHello")
            }
            try await serveTLS(io, hello: hello, peer: peer, context: context)
        case .http where tlsOnly:
            try? await io.write(Self.page(400, "Bad Request", "This port speaks HTTPS only."))
            io.close()
            throw EngineError(.notAllowed, "HTTPS entrypoint: plain HTTP from \(client ?? "?")")
        case .http:
            try await serveHTTP(io, peer: peer, context: context, scheme: "http", hstsMaxAge: nil, reserved: reservedRequests(localPort: io.channel.localAddress?.port))
        }
    }

    /// Who the visitor is: the peer, or, from a trusted load balancer, the source its PROXY
    /// protocol header names (a `LOCAL` header, the balancer's own health check, names none: the
    /// peer stands). A malformed header from a trusted peer closes the connection.
    func visitorAddress(_ io: Handshake) async throws -> SocketAddress? {
        let peer = io.channel.remoteAddress
        guard trustedProxies.trusts(peer) else { return peer }
        let result = try await io.read { buffer -> ProxyProtocolReader.Result? in
            let result = ProxyProtocolReader.parse(buffer)
            switch result {
            case .needMore: return nil
            case .header(_, _, let length): buffer.moveReaderIndex(forwardBy: length)
            case .invalid: break
            }
            return result
        }
        switch result {
        case .header(let source, _, _):
            return source ?? peer
        case .invalid(let reason):
            io.close()
            throw EngineError(.notAllowed, "entrypoint: bad PROXY protocol header from trusted \(peer.map { "\($0)" } ?? "?"): \(reason)")
        case .needMore:
            return peer
        }
    }

    /// HTTP/1.x on a connection (plain, or on TLS the relay terminated): the HTTP ingress takes it,
    /// where every request is routed on its own (`HTTPIngressHandler`) and requests the relay
    /// answers itself are answered (`ReservedRequests`); an agent's WebSocket on the agent path is
    /// handed over to the agent endpoint (`takeOverAgent`). The bytes read so far go to the ingress.
    func serveHTTP(_ io: Handshake, peer: SocketAddress?, context: HandlerContext, scheme: String, hstsMaxAge: Int?, reserved: ReservedRequests?) async throws {
        try await io.handOver { channel, _ in
            try channel.pipeline.syncOperations.addHandler(self.ingress(for: channel, peer: peer, context: context, scheme: scheme, hstsMaxAge: hstsMaxAge, reserved: reserved))
        }
    }

    /// The HTTP ingress of `channel`, which hands an agent's connection to `takeOverAgent`.
    func ingress(for channel: Channel, peer: SocketAddress?, context: HandlerContext, scheme: String, hstsMaxAge: Int?, reserved: ReservedRequests?) -> HTTPIngressHandler {
        let entrypoint = self
        let logger = context.logger
        return HTTPIngressHandler(
            directory: directory, logger: logger, client: peer.map { "\($0.hostPort)" }, clientIP: peer?.ipAddress,
            server: channel.localAddress.map { "\($0.hostPort)" }, idleTimeout: idleTimeout, headTimeout: headTimeout, scheme: scheme, hstsMaxAge: hstsMaxAge,
            reserved: reserved, gate: gate, source: peer, observers: observers, service: context.serviceName,
            handOver: { io in
                Task {
                    do {
                        try await entrypoint.takeOverAgent(io, context: context)
                    } catch {
                        logger.info("agent over WebSocket refused", metadata: ["agent": "\(io.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
                        io.close()
                    }
                }
            })
    }

    /// Opens a stream for a public connection on `first` (or, if that session just died, on
    /// another session of the tunnel), with reads off until its consumer is ready; `configure`
    /// adds the consumer's handlers before the stream is active. With `traffic`, the stream is
    /// counted into its tunnel's totals and metrics (`TunnelStreamCounter`, first in its
    /// pipeline), and the time it took to open is measured.
    static func openStream(
        session first: MuxSession, header: TunnelMessages.StreamHeader, directory: any TunnelDirectory, near loop: EventLoop? = nil,
        logger: Logger, traffic: TunnelTraffic? = nil, tried: [ObjectIdentifier] = [], configure: (@Sendable (Channel) throws -> Void)? = nil
    ) -> EventLoopFuture<Channel> {
        let asked = NIODeadline.now()
        let opened = first.openStream(metadata: TunnelMessages.encode(header)) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                try stream.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
                if let traffic { try stream.pipeline.syncOperations.addHandler(traffic.counter(forStreamOf: header.tunnel)) }
                try configure?(stream)
            }
        }
        let result = opened.flatMapError { error -> EventLoopFuture<Channel> in
            let tried = tried + [ObjectIdentifier(first)]
            logger.debug("entrypoint: stream open failed, trying another session", metadata: ["tunnel": "\(header.tunnel)", "attempt": "\(tried.count)", "error": "\(error)"])
            guard tried.count < 3, let next = directory.session(for: header.tunnel, near: loop, excluding: tried) else {
                return first.eventLoop.makeFailedFuture(error)
            }
            return openStream(session: next, header: header, directory: directory, near: loop, logger: logger, traffic: traffic, tried: tried, configure: configure)
        }
        // Measured once, by the first call, retries included.
        if let traffic, tried.isEmpty {
            result.whenSuccess { _ in traffic.metrics.streamOpened(after: .now() - asked) }
        }
        return result
    }

    /// Carries a whole connection (a TLS passthrough, an rtcp port) as one stream of the tunnel;
    /// with `budgets`, the tunnel's bandwidth paces both directions (the reads of the connection
    /// and of the stream are held back while the budget is spent).
    static func forward(
        _ io: Handshake, session: MuxSession, header: TunnelMessages.StreamHeader, directory: any TunnelDirectory, logger: Logger, budgets: [BandwidthBudget] = [],
        traffic: TunnelTraffic? = nil
    ) async throws {
        let stream = try await openStream(session: session, header: header, directory: directory, near: io.channel.eventLoop, logger: logger, traffic: traffic) { stream in
            for budget in budgets { try stream.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget), position: .first) }
        }.get()
        if !budgets.isEmpty {
            try await io.channel.eventLoop.submit {
                for budget in budgets { try io.channel.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget), position: .first) }
                BandwidthBudget.boundReads(of: io.channel, to: budgets)
            }.get()
        }
        logger.debug("entrypoint stream", metadata: ["tunnel": "\(header.tunnel)", "host": "\(header.host ?? "")", "client": "\(header.client ?? "")"])
        try await io.splice(withChannel: stream)
    }

    static func page(_ code: Int, _ reason: String, _ message: String, extra: String = "") -> String {
        let body = "<!doctype html><title>\(code) \(reason)</title><h1>\(code) \(reason)</h1><p>\(message)</p>\n"
        return "HTTP/1.1 \(code) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\(extra)\r\n\(body)"
    }
}

extension EntrypointHandler {
    /// Puts a whole connection to `tunnel` to the visitor gate (a TLS passthrough, a TCP
    /// entrypoint): refused, `refuse` answers (a TLS alert, or nothing) and the connection ends;
    /// admitted, its places among the tunnel's connections are held until it closes.
    func admit(_ io: Handshake, peer: SocketAddress?, tunnel: String, layers: [VisitorPolicy], host: String?, refuse: () async -> Void) async throws -> VisitorGate.Grant {
        guard let gate, !layers.isEmpty else { return VisitorGate.Grant() }
        switch gate.admitConnection(source: peer, tunnel: tunnel, layers: layers, host: host) {
        case .refuse(let reason):
            await refuse()
            io.close()
            throw EngineError(.notAllowed, "entrypoint: \(host ?? tunnel): \(reason)")
        case .pass(let grant):
            io.channel.closeFuture.whenComplete { _ in grant.release() }
            return grant
        }
    }
}
