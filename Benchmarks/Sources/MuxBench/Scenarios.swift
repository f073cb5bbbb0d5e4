import Foundation
import Mux
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import CMallInfo

#if canImport(Glibc)
import Glibc
#endif

enum Transport { case tcp, tls }

import Logging
let benchLogger: Logger = {
    var logger = Logger(label: "muxbench")
    logger.logLevel = ProcessInfo.processInfo.environment["MUXBENCH_LOG"] != nil ? .trace : .warning
    return logger
}()

/// Starts the writer only once TLS is up, so that nothing piles up in the TLS handler's buffer
/// before the handshake.
final class StartAfterHandshake: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let start: @Sendable (Channel) -> Void
    init(start: @escaping @Sendable (Channel) -> Void) { self.start = start }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { self.start(context.channel) }
        context.fireUserInboundEventTriggered(event)
    }
}

enum Pipes {
    static func benchConfiguration(maxStreams: Int = 1024) -> MuxConfiguration {
        var c = MuxConfiguration()
        c.keepaliveInterval = nil
        c.maxConcurrentStreams = maxStreams
        return c
    }

    /// Moves `bytes` from client to server over one raw connection or over `streams` Mux streams;
    /// returns Gbit/s of payload.
    static func throughput(transport: Transport, mux: Bool, streams: Int, bytes: Int, group: MultiThreadedEventLoopGroup, tls: TLSMaterial) throws -> Double {
        let serverLoop = group.next()
        let clientLoop = group.next()
        precondition(serverLoop !== clientLoop)
        let done = serverLoop.makePromise(of: Void.self)
        let counter = Counter(target: bytes, promise: done)
        let sessionPromise = clientLoop.makePromise(of: MuxSession.self)
        let config = self.benchConfiguration()

        let server = try ServerBootstrap(group: serverLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if transport == .tls { try sync.addHandler(NIOSSLServerHandler(context: tls.server)) }
                    if mux {
                        _ = try sync.addMuxSession(role: .responder, configuration: config, logger: benchLogger) { stream, _ in
                            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(CountingSink(counter: counter)) }
                        }
                    } else {
                        try sync.addHandler(CountingSink(counter: counter))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        let start = Date()
        let client = try ClientBootstrap(group: clientLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if transport == .tls { try sync.addHandler(NIOSSLClientHandler(context: tls.client, serverHostname: nil)) }
                    if mux {
                        sessionPromise.succeed(try sync.addMuxSession(role: .initiator, configuration: config, logger: benchLogger) { c, _ in c.eventLoop.makeSucceededVoidFuture() })
                    } else if transport == .tls {
                        try sync.addHandler(StartAfterHandshake { channel in
                            try! channel.pipeline.syncOperations.addHandler(BulkWriter(total: bytes))
                        })
                    } else {
                        try sync.addHandler(BulkWriter(total: bytes))
                    }
                }
            }
            .connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        if mux {
            let session = try sessionPromise.futureResult.wait()
            let perStream = bytes / streams
            for i in 0..<streams {
                let share = i == streams - 1 ? bytes - perStream * (streams - 1) : perStream
                _ = session.openStream(metadata: ByteBuffer(string: "bench")) { stream in
                    stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(BulkWriter(total: share)) }
                }
            }
        }
        try done.futureResult.wait()
        return gbps(bytes, Date().timeIntervalSince(start))
    }
}

enum Opens {
    /// Opens `count` streams (each closed right after opening: OPEN, FIN, RESET(NO_ERROR)) and
    /// returns opens per second until the server saw them all.
    static func perSecond(count: Int, group: MultiThreadedEventLoopGroup) throws -> Double {
        let serverLoop = group.next()
        let clientLoop = group.next()
        let done = serverLoop.makePromise(of: Void.self)
        let counter = Counter(target: count, promise: done)
        let config = Pipes.benchConfiguration()
        let server = try ServerBootstrap(group: serverLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: config, logger: benchLogger) { stream, _ in
                        counter.add(1)
                        return stream.eventLoop.makeSucceededVoidFuture()
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let sessionPromise = clientLoop.makePromise(of: MuxSession.self)
        let client = try ClientBootstrap(group: clientLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    sessionPromise.succeed(try channel.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: config, logger: benchLogger) { c, _ in c.eventLoop.makeSucceededVoidFuture() })
                }
            }
            .connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let session = try sessionPromise.futureResult.wait()
        let metadata = ByteBuffer(string: "10.0.0.1:8080")
        let start = Date()
        @Sendable func batch(_ remaining: Int) {
            let n = min(remaining, 256)
            for _ in 0..<n {
                session.openStream(metadata: metadata).whenSuccess { $0.close(promise: nil) }
            }
            if remaining > n { clientLoop.execute { batch(remaining - n) } }
        }
        clientLoop.execute { batch(count) }
        try done.futureResult.wait()
        return Double(count) / Date().timeIntervalSince(start)
    }
}

enum Idle {
    static func heapInUse() -> Int {
        Int(muxbench_heap_in_use())
    }

    static func rss() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// Opens `count` idle streams (both ends in this process) and returns heap bytes per stream
    /// per side.
    static func bytesPerStream(count: Int, group: MultiThreadedEventLoopGroup) throws -> (perSide: Double, rssPerSide: Double) {
        let serverLoop = group.next()
        let clientLoop = group.next()
        let done = serverLoop.makePromise(of: Void.self)
        let counter = Counter(target: count, promise: done)
        let config = Pipes.benchConfiguration(maxStreams: count + 16)
        let server = try ServerBootstrap(group: serverLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.addMuxSession(role: .responder, configuration: config, logger: benchLogger) { stream, _ in
                        counter.add(1)
                        return stream.eventLoop.makeSucceededVoidFuture()
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let sessionPromise = clientLoop.makePromise(of: MuxSession.self)
        let client = try ClientBootstrap(group: clientLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    sessionPromise.succeed(try channel.pipeline.syncOperations.addMuxSession(role: .initiator, configuration: config, logger: benchLogger) { c, _ in c.eventLoop.makeSucceededVoidFuture() })
                }
            }
            .connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let session = try sessionPromise.futureResult.wait()
        // Warm up allocator caches with a first stream.
        _ = try session.openStream(metadata: ByteBuffer(string: "w")).wait()
        Thread.sleep(forTimeInterval: 0.1)
        let heapBefore = self.heapInUse()
        let rssBefore = self.rss()
        let metadata = ByteBuffer(string: "10.0.0.1:8080")
        let opened = try clientLoop.submit {
            (0..<count).map { _ in session.openStream(metadata: metadata) }
        }.wait()
        for future in opened { _ = try future.wait() }
        _ = counter
        try done.futureResult.wait()
        Thread.sleep(forTimeInterval: 0.1)
        let heap = Double(self.heapInUse() - heapBefore) / Double(count) / 2
        let rss = Double(self.rss() - rssBefore) / Double(count) / 2
        withExtendedLifetime(opened) {}
        return (heap, rss)
    }
}
