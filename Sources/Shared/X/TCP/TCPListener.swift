import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Accepts TCP connections; with a TLS context it is the `tls` listener (TLS is terminated here
/// and the handler sees plaintext).
public struct TCPListener: StreamListener {
    let tls: NIOSSLContext?
    /// Whether `tls` asks clients for a certificate (said in the log when a handshake fails).
    let requiresClientCertificate: Bool
    public var backlog: Int32 = 1024

    public init(tls: NIOSSLContext? = nil, requiresClientCertificate: Bool = false) {
        self.tls = tls
        self.requiresClientCertificate = requiresClientCertificate
    }

    public func run(
        address: HostPort,
        group: EventLoopGroup,
        logger: Logger,
        bound: @escaping @Sendable (SocketAddress) -> Void,
        accept: @escaping @Sendable (Handshake) async -> Void
    ) async throws {
        let tls = self.tls
        let requiresClientCertificate = self.requiresClientCertificate
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.recvAllocator, value: SocketTuning.receiveAllocator)
            .bind(host: address.bindHost, port: address.port) { child in
                child.eventLoop.makeCompletedFuture {
                    if let tls {
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try child.pipeline.syncOperations.addHandler(TLSHandshakeLogger(logger: logger, requiresClientCertificate: requiresClientCertificate))
                    }
                    let reader = HandshakeReader()
                    try child.pipeline.syncOperations.addHandler(reader)
                    return Handshake(channel: child, reader: reader)
                }
            }
        if let local = server.channel.localAddress { bound(local) }
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await accept(connection) }
                    }
                }
            }
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }
}
