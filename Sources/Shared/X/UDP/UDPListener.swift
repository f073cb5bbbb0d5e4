import Logging
import NIOCore
import NIOPosix

/// Binds a UDP socket for a datagram handler. Reads whole datagrams up to 64 KiB (GOST's 1,500-byte
/// buffer truncated larger ones). No vector reads: NIO splits one buffer among the messages of a
/// vector read, which would cut large datagrams.
public struct UDPListener: DatagramListener {
    public init() {}

    public func bind(address: HostPort, group: EventLoopGroup, logger: Logger) async throws -> Channel {
        try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
            .bind(host: address.bindHost, port: address.port)
            .get()
    }
}

/// Limits shared by every UDP path.
public enum UDPLimits {
    /// The largest UDP payload (IPv4: 65,507 bytes); the receive buffer is sized to hold it.
    public static let maxDatagram = 65_536
}
