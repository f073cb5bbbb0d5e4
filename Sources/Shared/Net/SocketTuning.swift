import NIOCore

/// Socket settings shared by every connection the engine accepts or dials.
public enum SocketTuning {
    /// Reads grow up to 256 KiB while a peer keeps the socket full and shrink back for chatty
    /// peers. A bulk transfer then needs fewer read calls and wakeups: on the relay, one iperf3
    /// stream through the tunnel took about 15% less CPU for the same throughput than with NIO's
    /// 64 KiB ceiling (A/B, 9 runs each). Reads start at NIO's 2 KiB: a buffer that a quiet
    /// connection keeps (bytes waiting for a handshake or a slow partner) stays small, which keeps
    /// an idle tunneled connection at about 3 KiB on the relay (16 KiB reads made it 19 KiB).
    public static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
}
