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
    /// The service's `service_bytes_total` counters, when a metrics backend records.
    let bytes: ByteCountingHandler.Counters?

    /// `counting`: the service whose bytes on the wire its connections count (only when a
    /// metrics backend is installed; nil: none).
    public init(tls: NIOSSLContext? = nil, requiresClientCertificate: Bool = false, counting service: String? = nil) {
        self.tls = tls
        self.requiresClientCertificate = requiresClientCertificate
        self.bytes = service.flatMap { ByteCountingHandler.Counters.recording ? ByteCountingHandler.Counters(service: $0) : nil }
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
        let bytes = self.bytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.recvAllocator, value: SocketTuning.receiveAllocator)
            .bind(host: address.bindHost, port: address.port) { child in
                child.eventLoop.makeCompletedFuture {
                    // First, before TLS and before any byte is read: every byte on the wire counts.
                    if let bytes { try child.pipeline.syncOperations.addHandler(ByteCountingHandler(bytes)) }
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
