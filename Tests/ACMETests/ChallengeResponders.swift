import ACME
import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// A tiny `http-01` responder: answers `GET /.well-known/acme-challenge/<token>` with the key
/// authorization set by ``HTTP01Solver``, 404 for anything else. Counts the answers it gave.
final class HTTP01Responder: Sendable {
    let answers = NIOLockedValueBox<[String: String]>([:])
    let served = NIOLockedValueBox<Int>(0)
    private let channel: NIOLockedValueBox<Channel?> = .init(nil)

    func start(port: Int) async throws {
        let answers = self.answers
        let served = self.served
        let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(answers: answers, served: served))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        channel.withLockedValue { $0 = bound }
    }

    func stop() async {
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answers: NIOLockedValueBox<[String: String]>
        let served: NIOLockedValueBox<Int>
        var uri = ""

        init(answers: NIOLockedValueBox<[String: String]>, served: NIOLockedValueBox<Int>) {
            self.answers = answers
            self.served = served
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                uri = head.uri
            case .body:
                break
            case .end:
                let prefix = "/.well-known/acme-challenge/"
                let token = uri.hasPrefix(prefix) ? String(uri.dropFirst(prefix.count)) : ""
                let answer = answers.withLockedValue { $0[token] }
                if answer != nil { served.withLockedValue { $0 += 1 } }
                let body = ByteBuffer(string: answer ?? "not found")
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "\(body.readableBytes)")
                headers.add(name: "Content-Type", value: "text/plain")
                let head = HTTPResponseHead(version: .http1_1, status: answer == nil ? .notFound : .ok, headers: headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// A tiny `tls-alpn-01` responder: a TLS server offering only ALPN `acme-tls/1` that presents the
/// challenge certificate ``TLSALPNSolver`` installed. Records the protocol each handshake negotiated.
final class TLSALPNResponder: Sendable {
    let context = NIOLockedValueBox<NIOSSLContext?>(nil)
    let negotiated = NIOLockedValueBox<[String]>([])
    private let channel: NIOLockedValueBox<Channel?> = .init(nil)

    func start(port: Int) async throws {
        let context = self.context
        let negotiated = self.negotiated
        let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let sslContext = context.withLockedValue({ $0 }) else {
                        throw ChannelError.inappropriateOperationForState
                    }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.addHandler(HandshakeRecorder(negotiated: negotiated))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        channel.withLockedValue { $0 = bound }
    }

    func stop() async {
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
    }

    private final class HandshakeRecorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let negotiated: NIOLockedValueBox<[String]>

        init(negotiated: NIOLockedValueBox<[String]>) {
            self.negotiated = negotiated
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted(let negotiatedProtocol) = event {
                negotiated.withLockedValue { $0.append(negotiatedProtocol ?? "(none)") }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }
}

/// Answers `http-01` through an ``HTTP01Responder``.
struct HTTP01Solver: ACMEChallengeSolver {
    let responder: HTTP01Responder

    func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
        kinds.contains(.http01) ? .http01 : nil
    }

    func present(_ challenge: ACMEChallenge) async throws {
        responder.answers.withLockedValue { $0[challenge.token] = challenge.keyAuthorization }
    }

    func cleanup(_ challenge: ACMEChallenge) async {
        responder.answers.withLockedValue { $0[challenge.token] = nil }
    }
}

/// Answers `tls-alpn-01` through a ``TLSALPNResponder``.
struct TLSALPNSolver: ACMEChallengeSolver {
    let responder: TLSALPNResponder

    func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
        kinds.contains(.tlsALPN01) ? .tlsALPN01 : nil
    }

    func present(_ challenge: ACMEChallenge) async throws {
        let made = try TLSALPNChallengeCertificate.make(for: challenge)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: made.certificateDER, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(made.privateKey.pemRepresentation.utf8), format: .pem))
        )
        configuration.applicationProtocols = [TLSALPNChallengeCertificate.alpnProtocol]
        let context = try NIOSSLContext(configuration: configuration)
        responder.context.withLockedValue { $0 = context }
    }

    func cleanup(_ challenge: ACMEChallenge) async {
        responder.context.withLockedValue { $0 = nil }
    }
}

/// Records what the client asked of it; can refuse to choose or fail `present`, to test the client's
/// error paths and that `cleanup` always runs.
struct RecordingSolver: ACMEChallengeSolver {
    struct PresentFailed: Error {}
    let chooses: ACMEChallenge.Kind?
    let failPresent: Bool
    let calls = NIOLockedValueBox<[String]>([])

    func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
        calls.withLockedValue { $0.append("choose \(identifier)") }
        return chooses.flatMap { kinds.contains($0) ? $0 : nil }
    }

    func present(_ challenge: ACMEChallenge) async throws {
        calls.withLockedValue { $0.append("present \(challenge.kind.rawValue)") }
        if failPresent { throw PresentFailed() }
    }

    func cleanup(_ challenge: ACMEChallenge) async {
        calls.withLockedValue { $0.append("cleanup \(challenge.kind.rawValue)") }
    }
}
