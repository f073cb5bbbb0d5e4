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
        if !verifies, warnOnce.withLockedValue({ w in defer { w = false }; return w }) {
            logger.warning("TLS: the node's certificate is not verified (set secure=true, caFile or a pin)", metadata: ["node": "\(address)"])
        }
        let name = serverName ?? (address.isIPLiteral || address.host.isEmpty ? nil : address.host)
        let context = self.context
        let pin = self.pin
        let handshake = eventLoop.makePromise(of: Void.self)
        let channel: Channel
        do {
            channel = try await TCPDialer.bootstrap(on: eventLoop, timeout: connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls: NIOSSLClientHandler
                        if let pin {
                            tls = try NIOSSLClientHandler(context: context, serverHostname: name) { chain, promise in
                                if CertificatePin.matches(chain.first, pin) {
                                    promise.succeed(.certificateVerified)
                                } else {
                                    logger.warning("TLS: the node's certificate does not match the pin", metadata: [
                                        "node": "\(address)", "pinned": "\(pin)", "presented": "\(CertificatePin.fingerprint(of: chain.first) ?? "none")",
                                    ])
                                    promise.succeed(.failed)
                                }
                            }
                        } else {
                            tls = try NIOSSLClientHandler(context: context, serverHostname: name)
                        }
                        try channel.pipeline.syncOperations.addHandler(tls)
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
        let timer = eventLoop.scheduleTask(in: connectTimeout) {
            handshake.fail(EngineError(.timeout, "TLS handshake timed out"))
        }
        defer { timer.cancel() }
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw EngineError(.connectFailed, "TLS handshake with \(address) failed: \(error)")
        }
        return try await channel.eventLoop.submit {
            Handshake(channel: channel, reader: try channel.pipeline.syncOperations.handler(type: HandshakeReader.self))
        }.get()
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
