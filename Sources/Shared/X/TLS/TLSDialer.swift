import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// TLS over TCP to the node. Like GOST, it verifies the node only when told to (`secure`, a CA
/// file or a server name to check); otherwise it encrypts without authenticating and says so.
/// With `certFile` and `keyFile` it presents that client certificate (mutual TLS, for a node that
/// requires one).
public struct TLSDialer: Dialer {
    private let context: NIOSSLContext
    private let serverName: String?
    private let verifies: Bool
    private let pin: String?
    /// An unverified node is worth one warning per dialer, not one per reconnect.
    private let warnOnce = NIOLockedValueBox(true)
    public var connectTimeout: TimeAmount

    public init(options: TLSOptions, connectTimeout: TimeAmount = EngineDefaults.connectTimeout) throws {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        config.applicationProtocols = options.applicationProtocols
        if let ca = options.caFile {
            config.trustRoots = .file(ca)
        }
        switch (options.certFile, options.keyFile) {
        case (let cert?, let key?):
            config.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        case (nil, nil):
            break
        default:
            throw EngineError(.notAllowed, "a client certificate needs both certFile and keyFile")
        }
        self.pin = options.pinSHA256.map { $0.lowercased().replacingOccurrences(of: ":", with: "") }
        if let pin, pin.count != 64 || !pin.allSatisfy({ $0.isHexDigit }) {
            throw EngineError(.notAllowed, "a pin is the 64-hex-digit SHA-256 of the relay's certificate, as the relay printed it; got \"\(options.pinSHA256 ?? "")\"")
        }
        self.verifies = options.secure || options.caFile != nil || pin != nil
        config.certificateVerification = pin != nil ? .noHostnameVerification : (verifies ? .fullVerification : .none)
        self.context = try NIOSSLContext(configuration: config)
        self.serverName = options.serverName
        self.connectTimeout = connectTimeout
    }

    public func dial(_ address: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        warnIfUnverified(address, logger: logger)
        let handshake = eventLoop.makePromise(of: Void.self)
        let channel: Channel
        do {
            channel = try await TCPDialer.bootstrap(on: eventLoop, timeout: connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(try self.makeHandler(for: address, logger: logger))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(promise: handshake))
                        try channel.pipeline.syncOperations.addHandler(HandshakeReader())
                    }
                }
                .connect(host: address.dialHost, port: address.port)
                .flatMapErrorThrowing { error in throw TCPDialer.classify(error, address: address) }
                .get()
        } catch {
            handshake.fail(error)
            throw error
        }
        try await waitForHandshake(handshake, channel: channel, address: address)
        return try await channel.eventLoop.submit {
            Handshake(channel: channel, reader: try channel.pipeline.syncOperations.handler(type: HandshakeReader.self))
        }.get()
    }

    /// TLS over a connection that is already open (the end of a chain of proxies, a WebSocket):
    /// the TLS handler goes behind `io`'s handshake reader, which then leaves (any bytes it held go
    /// into TLS), and the returned connection has a fresh reader behind TLS.
    public func secure(_ io: Handshake, address: HostPort, logger: Logger) async throws -> Handshake {
        warnIfUnverified(address, logger: logger)
        let channel = io.channel
        let old = io.readerForLoop
        let handshake = channel.eventLoop.makePromise(of: Void.self)
        let reader: NIOLoopBound<HandshakeReader>
        do {
            reader = try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<NIOLoopBound<HandshakeReader>> in
                do {
                    let ops = channel.pipeline.syncOperations
                    let reader = HandshakeReader()
                    try ops.addHandler(try self.makeHandler(for: address, logger: logger))
                    try ops.addHandler(TLSHandshakeWaiter(promise: handshake))
                    try ops.addHandler(reader)
                    let bound = NIOLoopBound(reader, eventLoop: channel.eventLoop)
                    return ops.removeHandler(old.value).map { bound }
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.get()
        } catch {
            handshake.fail(error)
            channel.close(promise: nil)
            throw error
        }
        try await waitForHandshake(handshake, channel: channel, address: address)
        return try await channel.eventLoop.submit { Handshake(channel: channel, reader: reader.value) }.get()
    }

    private func warnIfUnverified(_ address: HostPort, logger: Logger) {
        if !verifies, warnOnce.withLockedValue({ w in defer { w = false }; return w }) {
            logger.warning("TLS: the node's certificate is not verified (set secure=true, caFile or a pin)", metadata: ["node": "\(address)"])
        }
    }

    private func waitForHandshake(_ handshake: EventLoopPromise<Void>, channel: Channel, address: HostPort) async throws {
        let timer = channel.eventLoop.scheduleTask(in: connectTimeout) {
            handshake.fail(EngineError(.timeout, "TLS handshake timed out"))
        }
        defer { timer.cancel() }
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw EngineError(.connectFailed, "TLS handshake with \(address) failed: \(error)")
        }
    }

    /// The client TLS handler for `address`: its name as SNI (unless an IP), the pin checked.
    private func makeHandler(for address: HostPort, logger: Logger) throws -> NIOSSLClientHandler {
        let name = serverName ?? (address.isIPLiteral || address.host.isEmpty ? nil : address.host)
        guard let pin else { return try NIOSSLClientHandler(context: context, serverHostname: name) }
        return try NIOSSLClientHandler(context: context, serverHostname: name) { chain, promise in
            if CertificatePin.matches(chain.first, pin) {
                promise.succeed(.certificateVerified)
            } else {
                logger.warning("TLS: the node's certificate does not match the pin", metadata: [
                    "node": "\(address)", "pinned": "\(pin)", "presented": "\(CertificatePin.fingerprint(of: chain.first) ?? "none")",
                ])
                promise.succeed(.failed)
            }
        }
    }
}

/// Completes when the TLS handler in front of it reports a finished handshake.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            promise.succeed(())
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EngineError(.closed, "connection closed during TLS handshake"))
        context.fireChannelInactive()
    }
}
