import Logging
import NIOCore
import NIOPosix

/// SOCKS5 UDP ASSOCIATE (RFC 1928 §7): a relay socket per association, living as long as the
/// client's control connection. Datagrams from the client carry a SOCKS header naming their target;
/// replies from those targets come back wrapped with the sender's address.
///
/// Two UDP sockets per association: the relay socket the client sends to (its address is in the
/// reply), and a socket towards the targets, opened on the first datagram. NIO closes a datagram
/// socket on a write error other than EMSGSIZE or EHOSTUNREACH (sending to port 0 is EINVAL, to an
/// unroutable network ENETUNREACH), so a target the client names must not be able to end the
/// association: such an error closes only the target socket, and the next datagram opens a new one.
enum SOCKS5UDPAssociation {
    /// - Parameter requested: the request's DST.ADDR and DST.PORT, the address the client says it
    ///   will send its datagrams from (zeros when it does not know yet).
    static func serve(_ io: Handshake, requested: HostPort, context: HandlerContext) async throws {
        let control = io.channel
        guard let local = control.localAddress, let peer = control.remoteAddress, let peerIP = peer.ipAddress else {
            throw EngineError(.closed, "control connection closed")
        }
        if let chain = context.router.chain, !chain.hops.isEmpty {
            try? await io.write(SOCKS5Handler.reply(0x07))
            throw EngineError(.unsupported, "SOCKS5 UDP through a chain is not supported yet")
        }
        let client = SOCKS5UDPClient(requested: requested, controlPeerIP: peerIP)
        let host = local.ipAddress ?? "0.0.0.0"
        let logger = context.logger
        let relay: Channel
        do {
            relay = try await DatagramBootstrap(group: control.eventLoop)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SOCKS5UDPRelayHandler(client: client, targetSocketHost: host, logger: logger))
                    }
                }
                .bind(host: host, port: 0)
                .get()
        } catch {
            try? await io.write(SOCKS5Handler.reply(0x01))
            throw error
        }
        control.closeFuture.whenComplete { _ in relay.close(promise: nil) }
        relay.closeFuture.whenComplete { _ in control.close(promise: nil) }
        let bound = relay.localAddress?.hostPort ?? HostPort(host: "0.0.0.0", port: 0)
        do {
            try await io.write(SOCKS5Handler.reply(0x00, bound: bound))
        } catch {
            relay.close(promise: nil)
            throw error
        }
        logger.debug("socks5 udp associate", metadata: ["client": "\(client)", "relay": "\(bound)"])
        // The control connection only keeps the association alive. The reader leaves for a handler
        // that ends the association when the client ends the connection: the listener allows
        // half-close, so a client's FIN is an event, not a closed channel, and with nobody to
        // answer it the connection and the relay socket would stay open for good. Both happen in
        // one step on the loop, so a FIN the reader already saw is passed on to the new handler.
        let reader = io.readerForLoop
        try await control.eventLoop.flatSubmit {
            // Closed meanwhile: the close already took the relay socket along.
            guard control.isActive else { return control.eventLoop.makeSucceededVoidFuture() }
            do {
                try control.pipeline.syncOperations.addHandler(SOCKS5UDPControlHandler(logger: logger))
            } catch {
                return control.eventLoop.makeFailedFuture(error)
            }
            return control.pipeline.syncOperations.removeHandler(reader.value)
        }.get()
    }
}

/// Which datagrams on the relay socket are the client's (RFC 1928 §7: the request's DST.ADDR and
/// DST.PORT "MAY" limit access, and here they do). The host is the one the request named, or the
/// control connection's peer when it named none; the port is the one named, or, when the request
/// carried port 0, the port of the first well-formed datagram from that host.
struct SOCKS5UDPClient: Sendable, CustomStringConvertible {
    /// The client's host, in the form `SocketAddress.ipAddress` gives.
    let ip: String
    /// The client's full address when the request named its port.
    let named: SocketAddress?

    /// Datagrams count only from the control connection's IP. The request's port pins the exact
    /// source only when the request names that same IP: a client behind NAT cannot know the
    /// address its datagrams will come from (it names its private address, or 0.0.0.0 with its
    /// local port, which the NAT may rewrite), so otherwise the first datagram's port is taken.
    init(requested: HostPort, controlPeerIP: String) {
        self.ip = controlPeerIP
        if requested.port != 0, let address = try? SocketAddress(ipAddress: requested.host, port: requested.port),
            !Self.isUnspecified(address), address.ipAddress == controlPeerIP
        {
            self.named = address
        } else {
            self.named = nil
        }
    }

    private static func isUnspecified(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let a): return a.address.sin_addr.s_addr == 0
        case .v6(let a): return withUnsafeBytes(of: a.address.sin6_addr) { $0.allSatisfy { $0 == 0 } }
        default: return true
        }
    }

    var description: String { named.map { "\($0)" } ?? "\(ip):(first datagram)" }
}

/// Ends the association with the control connection: what the client sends on it is dropped, its
/// end of input (or an error) closes it, and the close takes the relay socket along.
final class SOCKS5UDPControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("socks5 udp: control connection failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Relays between one SOCKS5 client and any number of UDP targets: the handler of the relay socket,
/// and the owner of the association's socket towards the targets.
final class SOCKS5UDPRelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let expected: SOCKS5UDPClient
    private let targetSocketHost: String
    let logger: Logger
    private var context: ChannelHandlerContext?
    /// The client's address once known: named in the request, or latched from its first datagram.
    private var client: SocketAddress?
    /// The socket towards the targets; nil until the first datagram and after a write error closed it.
    private var targetSocket: EventLoopFuture<Channel>?
    private var ended = false
    /// Targets the client has sent to: only their datagrams are passed back. Bounded (oldest out)
    /// so a client cannot grow it without limit.
    private var peers: Set<SocketAddress> = []
    private var peerOrder: [SocketAddress] = []
    static let maxPeers = 1024
    /// Resolved target names, bounded likewise.
    private var resolved: [HostPort: SocketAddress] = [:]
    static let maxResolved = 256
    /// Datagrams dropped, by reason, reported in the debug log when the association ends.
    private var dropped: [String: Int] = [:]

    init(client: SOCKS5UDPClient, targetSocketHost: String, logger: Logger) {
        self.expected = client
        self.client = client.named
        self.targetSocketHost = targetSocketHost
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.end()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.end()
        context.fireChannelInactive()
    }

    private func end() {
        guard !self.ended else { return }
        self.ended = true
        self.targetSocket?.whenSuccess { $0.close(promise: nil) }
        self.targetSocket = nil
        if !self.dropped.isEmpty {
            self.logger.debug("socks5 udp: association ended", metadata: ["dropped": "\(self.dropped)"])
        }
    }

    private func drop(_ reason: String) {
        self.dropped[reason, default: 0] += 1
    }

    // MARK: from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let source = envelope.remoteAddress
        if let client = self.client {
            guard source == client else { return self.drop("not from the client") }
        } else {
            guard source.ipAddress == self.expected.ip else { return self.drop("not from the client") }
        }
        var data = envelope.data
        guard let header = data.readBytes(length: 3), header[2] == 0,
            let target = try? SOCKSAddress.read(from: &data)
        else {
            // Fragments (FRAG != 0) and malformed headers are dropped, as RFC 1928 allows.
            return self.drop("malformed or fragment")
        }
        if self.client == nil {
            self.client = source
        }
        guard target.port != 0 else {
            // Nothing listens on port 0, and sending there is EINVAL.
            return self.drop("to port 0")
        }
        if let address = self.resolved[target] ?? (try? SocketAddress(ipAddress: target.host, port: target.port)) {
            self.send(data, to: address)
            return
        }
        // Resolve names off the event loop; getaddrinfo blocks.
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let payload = data
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
        }.whenComplete { result in
            let relay = bound.value
            switch result {
            case .success(let address):
                if relay.resolved.count >= Self.maxResolved { relay.resolved.removeAll() }
                relay.resolved[target] = address
                relay.send(payload, to: address)
            case .failure(let error):
                relay.logger.debug("socks5 udp: cannot resolve", metadata: ["target": "\(target)", "error": "\(error)"])
            }
        }
    }

    /// Sends a client's payload to a target through the target socket, opening it if need be.
    private func send(_ payload: ByteBuffer, to address: SocketAddress) {
        guard !self.ended, let context else { return }
        guard address.protocol == context.channel.localAddress?.protocol else {
            // An IPv6 target from an IPv4 socket (or the reverse) cannot be sent to.
            return self.drop("address family")
        }
        self.remember(address)
        let socket = self.targetSocket ?? self.openTargetSocket(on: context.eventLoop)
        socket.whenSuccess { channel in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: payload), promise: nil)
        }
    }

    private func remember(_ address: SocketAddress) {
        guard self.peers.insert(address).inserted else { return }
        self.peerOrder.append(address)
        if self.peerOrder.count > Self.maxPeers {
            self.peers.remove(self.peerOrder.removeFirst())
        }
    }

    /// Binds the socket towards the targets beside the relay socket. A write error closes it (NIO
    /// does, see the type's comment); it is then forgotten, and the next datagram opens another.
    private func openTargetSocket(on loop: EventLoop) -> EventLoopFuture<Channel> {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let socket = DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SOCKS5UDPTargetHandler(relay: bound))
                }
            }
            .bind(host: self.targetSocketHost, port: 0)
        self.targetSocket = socket
        socket.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                if self.ended {
                    channel.close(promise: nil)
                    return
                }
                channel.closeFuture.assumeIsolated().whenComplete { _ in
                    guard self.targetSocket === socket else { return }
                    self.targetSocket = nil
                    self.logger.debug("socks5 udp: socket towards targets closed after a write error; the next datagram opens another")
                }
            case .failure(let error):
                self.logger.debug("socks5 udp: cannot open the socket towards targets", metadata: ["error": "\(error)"])
                if self.targetSocket === socket { self.targetSocket = nil }
            }
        }
        return socket
    }

    // MARK: from the targets

    /// A datagram on the target socket: passed to the client, wrapped with its sender's address,
    /// only when the client has sent to that address.
    func fromTarget(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let context, let client else { return }
        guard self.peers.contains(envelope.remoteAddress) else { return self.drop("unsolicited") }
        var out = context.channel.allocator.buffer(capacity: envelope.data.readableBytes + 22)
        out.writeBytes([0, 0, 0])
        SOCKSAddress.write(envelope.remoteAddress.hostPort, to: &out)
        var payload = envelope.data
        out.writeBuffer(&payload)
        context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: out)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Never closes: a read error NIO deems fatal closes the socket itself.
        logger.debug("socks5 udp: relay socket error", metadata: ["error": "\(error)"])
    }
}

/// The socket towards the targets: hands what arrives to the relay handler (same event loop).
final class SOCKS5UDPTargetHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let relay: NIOLoopBound<SOCKS5UDPRelayHandler>

    init(relay: NIOLoopBound<SOCKS5UDPRelayHandler>) {
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.relay.value.fromTarget(self.unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Never closes; see SOCKS5UDPAssociation.
        self.relay.value.logger.debug("socks5 udp: target socket error", metadata: ["error": "\(error)"])
    }
}
