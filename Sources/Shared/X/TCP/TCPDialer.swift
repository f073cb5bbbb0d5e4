import Logging
import NIOCore
import NIOPosix

/// Plain TCP to the node, with half-close allowed so a proxy can pass a peer's FIN on.
public struct TCPDialer: Dialer {
    public var connectTimeout: TimeAmount

    public init(connectTimeout: TimeAmount = EngineDefaults.connectTimeout) {
        self.connectTimeout = connectTimeout
    }

    public func dial(_ address: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        try await Self.bootstrap(on: eventLoop, timeout: connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HandshakeReader())
                }
            }
            .connect(host: address.dialHost, port: address.port)
            .flatMapThrowing { channel in
                Handshake(channel: channel, reader: try channel.pipeline.syncOperations.handler(type: HandshakeReader.self))
            }
            .flatMapErrorThrowing { error in throw Self.classify(error, address: address) }
            .get()
    }

    /// Connects without a handshake reader, for a caller that joins the channel to another at
    /// once (the agent's streams to their local service): the same socket options and errors as
    /// `dial`, without an async hop on a per-stream path.
    public func connect(_ address: HostPort, on eventLoop: EventLoop) -> EventLoopFuture<Channel> {
        Self.bootstrap(on: eventLoop, timeout: connectTimeout)
            .connect(host: address.dialHost, port: address.port)
            .flatMapErrorThrowing { error in throw Self.classify(error, address: address) }
    }

    static func bootstrap(on eventLoop: EventLoop, timeout: TimeAmount) -> ClientBootstrap {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.recvAllocator, value: SocketTuning.receiveAllocator)
    }

    /// Turns socket errors into engine errors that handlers can map to protocol reply codes.
    static func classify(_ error: Error, address: HostPort) -> EngineError {
        let text = "\(error)"
        if let e = error as? EngineError { return e }
        if error is ChannelError, case .connectTimeout = error as! ChannelError {
            return EngineError(.timeout, "connect to \(address) timed out")
        }
        if text.contains("refused") || text.contains("ECONNREFUSED") || text.contains("errno: 111") {
            return EngineError(.connectionRefused, "connect to \(address): connection refused")
        }
        if text.contains("unreachable") || text.contains("resolution") || text.contains("NXDOMAIN") || text.contains("getaddrinfo") {
            return EngineError(.hostUnreachable, "connect to \(address): \(text)")
        }
        return EngineError(.connectFailed, "connect to \(address): \(text)")
    }
}
