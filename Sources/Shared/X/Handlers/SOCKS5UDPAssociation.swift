import Logging
import NIOCore
import NIOPosix

/// SOCKS5 UDP ASSOCIATE (RFC 1928 §7): a relay socket per association, living as long as the
/// client's control connection. Datagrams from the client's address carry a SOCKS header naming
/// their target; replies from targets come back wrapped with the sender's address.
enum SOCKS5UDPAssociation {
    static func serve(_ io: Handshake, context: HandlerContext) async throws {
        let control = io.channel
        guard let local = control.localAddress, let peer = control.remoteAddress else {
            throw EngineError(.closed, "control connection closed")
        }
        if let chain = context.router.chain, !chain.hops.isEmpty {
            try? await io.write(SOCKS5Handler.reply(0x07))
            throw EngineError(.unsupported, "SOCKS5 UDP through a chain is not supported yet")
        }
        let relay: Channel
        do {
            relay = try await DatagramBootstrap(group: control.eventLoop)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SOCKS5UDPRelayHandler(clientIP: peer.ipAddress, logger: context.logger))
                    }
                }
                .bind(host: local.ipAddress ?? "0.0.0.0", port: 0)
                .get()
        } catch {
            try? await io.write(SOCKS5Handler.reply(0x01))
            throw error
        }
        control.closeFuture.whenComplete { _ in relay.close(promise: nil) }
        relay.closeFuture.whenComplete { _ in control.close(promise: nil) }
        let bound = relay.localAddress?.hostPort ?? HostPort(host: "0.0.0.0", port: 0)
        try await io.write(SOCKS5Handler.reply(0x00, bound: bound))
        context.logger.debug("socks5 udp associate", metadata: ["client": "\(peer)", "relay": "\(bound)"])
        // The control connection only keeps the association alive; what the client sends on it is dropped.
        try await io.finish()
    }
}

/// Relays between one SOCKS5 client and any number of UDP targets.
final class SOCKS5UDPRelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let clientIP: String?
    private let logger: Logger
    private var client: SocketAddress?
    /// Resolved target names, bounded so a client cannot grow it without limit.
    private var resolved: [HostPort: SocketAddress] = [:]
    static let maxResolved = 256

    init(clientIP: String?, logger: Logger) {
        self.clientIP = clientIP
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        if envelope.remoteAddress.ipAddress == clientIP, client == nil || client == envelope.remoteAddress {
            fromClient(envelope, context: context)
        } else if let client {
            var out = context.channel.allocator.buffer(capacity: envelope.data.readableBytes + 22)
            out.writeBytes([0, 0, 0])
            SOCKSAddress.write(envelope.remoteAddress.hostPort, to: &out)
            var payload = envelope.data
            out.writeBuffer(&payload)
            context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: out)), promise: nil)
        }
    }

    private func fromClient(_ envelope: AddressedEnvelope<ByteBuffer>, context: ChannelHandlerContext) {
        var data = envelope.data
        guard let header = data.readBytes(length: 3), header[2] == 0,
            let target = try? SOCKSAddress.read(from: &data)
        else {
            // Fragments (FRAG != 0) and malformed headers are dropped, as RFC 1928 allows.
            return
        }
        client = envelope.remoteAddress
        if let address = resolved[target] ?? (try? SocketAddress(ipAddress: target.host, port: target.port)) {
            context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: data)), promise: nil)
            return
        }
        // Resolve names off the event loop; getaddrinfo blocks.
        let loop = context.eventLoop
        let channel = context.channel
        let bound = NIOLoopBound(self, eventLoop: loop)
        let payload = data
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
        }.whenComplete { result in
            switch result {
            case .success(let address):
                let relay = bound.value
                if relay.resolved.count >= Self.maxResolved { relay.resolved.removeAll() }
                relay.resolved[target] = address
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: payload), promise: nil)
            case .failure(let error):
                bound.value.logger.debug("socks5 udp: cannot resolve", metadata: ["target": "\(target)", "error": "\(error)"])
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("socks5 udp: socket error", metadata: ["error": "\(error)"])
    }
}
