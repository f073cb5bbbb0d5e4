import Logging
import NIOCore
import NIOPosix

/// UDP port forwarding (`udp`): one upstream socket per client address, closed after `idleTimeout`
/// without traffic in either direction, so replies find their way back and any number of exchanges
/// work (GOST needed keepalive flags for more than one).
public struct UDPForwardHandler: DatagramHandler {
    public var idleTimeout: TimeAmount
    public var maxSessions: Int

    public init(options: ComponentOptions = ComponentOptions()) {
        let parsed = UDPForwardOptions(metadata: options.metadata)
        self.idleTimeout = parsed.idleTimeout
        self.maxSessions = parsed.maxSessions
    }

    public func start(on channel: Channel, context: HandlerContext) async throws {
        guard let forwarder = context.forwarder else {
            throw EngineError(.unsupported, "udp handler needs forwarder nodes")
        }
        let idle = idleTimeout
        let max = maxSessions
        let router = (context.router.chain?.hops.isEmpty ?? true) ? nil : context.router
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(
                UDPSessionTable(forwarder: forwarder, router: router, idleTimeout: idle, maxSessions: max, logger: context.logger))
        }.get()
    }
}

/// The per-client sessions of a `udp` service, confined to the listening socket's event loop.
final class UDPSessionTable: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private final class Session {
        var channel: Channel?
        var queued: [ByteBuffer] = []
        var lastActive: NIODeadline = .now()
    }

    /// Datagrams held per session while its upstream socket is being opened.
    static let maxQueued = 32

    private let forwarder: Forwarder
    /// Set when datagrams go through a chain (a SOCKS5 UDP association per session).
    private let router: Router?
    private let idleTimeout: TimeAmount
    private let maxSessions: Int
    private let logger: Logger
    private var sessions: [SocketAddress: Session] = [:]
    private var sweeper: RepeatedTask?
    private var context: ChannelHandlerContext?
    private(set) var dropped = 0

    init(forwarder: Forwarder, router: Router?, idleTimeout: TimeAmount, maxSessions: Int, logger: Logger) {
        self.forwarder = forwarder
        self.router = router
        self.idleTimeout = idleTimeout
        self.maxSessions = maxSessions
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 2, 100_000_000))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.sweep()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.sweeper?.cancel()
        for session in sessions.values { session.channel?.close(promise: nil) }
        sessions.removeAll()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        if let session = sessions[client] {
            session.lastActive = .now()
            if let upstream = session.channel {
                if upstream.isWritable {
                    upstream.writeAndFlush(envelope.data, promise: nil)
                } else {
                    dropped += 1
                }
            } else if session.queued.count < Self.maxQueued {
                session.queued.append(envelope.data)
            } else {
                dropped += 1
            }
            return
        }
        guard sessions.count < maxSessions else {
            dropped += 1
            logger.warning("udp: session limit reached, dropping datagram", metadata: ["client": "\(client)", "limit": "\(maxSessions)"])
            return
        }
        let session = Session()
        session.queued.append(envelope.data)
        sessions[client] = session
        open(session, for: client, context: context)
    }

    private func open(_ session: Session, for client: SocketAddress, context: ChannelHandlerContext) {
        guard let index = forwarder.selector.select() else { return }
        let node = forwarder.selector.nodes[index]
        let listener = context.channel
        let loop = context.eventLoop
        let sessionBox = NIOLoopBound(session, eventLoop: loop)
        let touch: @Sendable () -> Void = { sessionBox.value.lastActive = .now() }
        let opened: EventLoopFuture<(Channel, Handshake?)>
        if let router {
            // Through a chain: a SOCKS5 UDP association whose relay wraps each datagram.
            let promise = loop.makePromise(of: (Channel, Handshake?).self)
            Self.openAssociated(router: router, target: node.address, listener: listener, client: client, touch: touch, logger: logger, promise: promise)
            opened = promise.futureResult
        } else {
            opened = Self.bootstrap(on: loop) { channel in
                try channel.pipeline.syncOperations.addHandler(UDPReplyRelay(listener: listener, client: client, session: touch))
            }
            .connect(host: node.address.dialHost, port: node.address.port)
            .map { ($0, nil) }
        }
        opened.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let (upstream, _)):
                self.forwarder.selector.markSuccess(index)
                guard self.sessions[client] === session else {
                    upstream.close(promise: nil)
                    return
                }
                session.channel = upstream
                for datagram in session.queued { upstream.write(datagram, promise: nil) }
                session.queued.removeAll()
                upstream.flush()
                upstream.closeFuture.assumeIsolated().whenComplete { _ in
                    if self.sessions[client] === session { self.sessions[client] = nil }
                }
            case .failure(let error):
                self.forwarder.selector.markFailure(index)
                self.logger.warning("udp: cannot open upstream", metadata: ["target": "\(node.address)", "error": "\(error)"])
                self.sessions[client] = nil
            }
        }
    }

    /// Opens a SOCKS5 UDP association through `router` and a socket to its relay.
    private static func openAssociated(
        router: Router, target: HostPort, listener: Channel, client: SocketAddress,
        touch: @escaping @Sendable () -> Void, logger: Logger, promise: EventLoopPromise<(Channel, Handshake?)>
    ) {
        let loop = promise.futureResult.eventLoop
        Task {
            do {
                let association = try await router.associateUDP(on: loop, logger: logger)
                let control = association.control
                let relay = association.relay
                let channel = try await bootstrap(on: loop) { channel in
                    try channel.pipeline.syncOperations.addHandler(SOCKS5UDPEncapsulation(target: target))
                    try channel.pipeline.syncOperations.addHandler(UDPReplyRelay(listener: listener, client: client, session: touch))
                }.connect(host: relay.dialHost, port: relay.port).get()
                // The association lives as long as its control connection, and the other way round.
                control.channel.closeFuture.whenComplete { _ in channel.close(promise: nil) }
                channel.closeFuture.whenComplete { _ in control.channel.close(promise: nil) }
                promise.succeed((channel, control))
            } catch {
                promise.fail(error)
            }
        }
    }

    static func bootstrap(on loop: EventLoop, _ setup: @escaping @Sendable (Channel) throws -> Void) -> DatagramBootstrap {
        DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try setup(channel) }
            }
    }

    private func sweep() {
        let cutoff = NIODeadline.now() - idleTimeout
        for (client, session) in sessions where session.lastActive < cutoff {
            sessions[client] = nil
            session.channel?.close(promise: nil)
            logger.debug("udp: session idle, closed", metadata: ["client": "\(client)"])
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP errors and the like surface here for one datagram; the socket keeps serving others.
        logger.debug("udp: socket error", metadata: ["error": "\(error)"])
    }
}

/// Sends an upstream's replies back to its client through the listening socket.
final class UDPReplyRelay: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let listener: Channel
    private let client: SocketAddress
    private let touch: () -> Void

    init(listener: Channel, client: SocketAddress, session touch: @escaping @Sendable () -> Void) {
        self.listener = listener
        self.client = client
        self.touch = touch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        touch()
        guard listener.isWritable else { return }
        listener.write(AddressedEnvelope(remoteAddress: client, data: envelope.data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        listener.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A refused datagram (ICMP port unreachable) is not fatal for the session.
    }
}

/// Wraps datagrams for a SOCKS5 UDP relay (RFC 1928 §7 header naming `target`) and unwraps replies.
final class SOCKS5UDPEncapsulation: ChannelDuplexHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias InboundOut = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let header: ByteBuffer

    init(target: HostPort) {
        var header = ByteBuffer(bytes: [0, 0, 0])
        SOCKSAddress.write(target, to: &header)
        self.header = header
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var payload = self.unwrapOutboundIn(data)
        var out = context.channel.allocator.buffer(capacity: header.readableBytes + payload.readableBytes)
        out.writeImmutableBuffer(header)
        out.writeBuffer(&payload)
        context.write(self.wrapOutboundOut(out), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = self.unwrapInboundIn(data)
        guard let head = envelope.data.readBytes(length: 3), head[2] == 0,
            (try? SOCKSAddress.read(from: &envelope.data)) != nil
        else { return }
        context.fireChannelRead(self.wrapInboundOut(envelope))
    }
}
