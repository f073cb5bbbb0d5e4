import Foundation
import Mux
import NIOCore
import NIOPosix
import XCTest

@testable import TunnelServer

/// The aggregate limit measured on real sockets: two TCP connections on loopback, each downloading
/// as fast as a local NIO server can send, share one `BandwidthBudget` through their pacers; the
/// bytes both receive in 3 s come to the budget's rate (±15 %), not twice it. The same with two Mux
/// streams of one session (the relay's side of a tunnel: the stream channel is paced, the agent's
/// writes wait for window). A measured property of the limiter's correctness (a per-connection
/// limiter gives 2×), not a performance check: the loopback could carry hundreds of times more.
final class BandwidthPacerLoopbackTests: XCTestCase {
    /// Sends the same 64 KiB chunk for as long as the connection is writable (bounded by the
    /// channel's write-buffer water marks), until closed.
    final class Pump: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { pump(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            pump(context)
            context.fireChannelActive()
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable { pump(context) }
            context.fireChannelWritabilityChanged()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

        private func pump(_ context: ChannelHandlerContext) {
            var rounds = 0
            while context.channel.isActive, context.channel.isWritable, rounds < 64 {
                rounds += 1
                context.write(wrapOutboundOut(chunk), promise: nil)
            }
            context.flush()
        }
    }

    /// Counts the bytes a client receives (and drops them).
    final class Count: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let total: ManagedCounter
        init(_ total: ManagedCounter) { self.total = total }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            total.add(unwrapInboundIn(data).readableBytes)
        }
    }

    func testTwoDownloadsShareOneBudget() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Pump()) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)

        let rate = 2_000_000
        let budget = BandwidthBudget(bytesPerSecond: rate)
        let perClient = [ManagedCounter(), ManagedCounter()]
        var clients: [Channel] = []
        defer { for c in clients { try? c.close().wait() } }
        for received in perClient {
            let client = try ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget))
                        try channel.pipeline.syncOperations.addHandler(Count(received))
                    }
                }
                .connect(host: "127.0.0.1", port: port).wait()
            clients.append(client)
        }

        measure(perClient, rate: rate)
        for c in clients { XCTAssertTrue(c.isActive) }
    }

    /// Two streams of one Mux session: the relay (responder) opens them and paces its stream
    /// channels; the agent (initiator) answers each with a download.
    func testTwoMuxStreamsShareOneBudget() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let relaySession = group.next().makePromise(of: MuxSession.self)
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = try channel.pipeline.syncOperations.addMuxSession(
                        role: .responder, inboundStreamInitializer: { stream, _ in stream.eventLoop.makeSucceededVoidFuture() })
                    relaySession.succeed(session)
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)
        let agent = try ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.addMuxSession(
                        role: .initiator,
                        inboundStreamInitializer: { stream, _ in
                            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(Pump()) }
                        })
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        defer { try? agent.close().wait() }
        let session = try relaySession.futureResult.wait()

        let rate = 2_000_000
        let budget = BandwidthBudget(bytesPerSecond: rate)
        let perStream = [ManagedCounter(), ManagedCounter()]
        var streams: [Channel] = []
        for received in perStream {
            let stream = try session.openStream(metadata: ByteBuffer(string: "download")) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget))
                    try stream.pipeline.syncOperations.addHandler(Count(received))
                }
            }.wait()
            streams.append(stream)
        }
        measure(perStream, rate: rate)
        for s in streams { XCTAssertTrue(s.isActive) }
    }

    /// Waits for the flow to settle (the initial burst and buffers drawn), then checks the bytes all
    /// the counters gain over 3 s come to `rate` ±15 %, each taking a fair part.
    func measure(_ counters: [ManagedCounter], rate: Int, file: StaticString = #filePath, line: UInt = #line) {
        Thread.sleep(forTimeInterval: 0.5)
        let startBytes = counters.map(\.value)
        let start = DispatchTime.now().uptimeNanoseconds
        Thread.sleep(forTimeInterval: 3)
        let each = zip(counters, startBytes).map { $0.value - $1 }
        let bytes = each.reduce(0, +)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let measured = Double(bytes) / elapsed
        XCTAssertGreaterThan(measured, Double(rate) * 0.85, "measured \(Int(measured)) B/s over \(elapsed) s", file: file, line: line)
        XCTAssertLessThan(measured, Double(rate) * 1.15, "measured \(Int(measured)) B/s over \(elapsed) s", file: file, line: line)
        // Both downloads ran (the budget is shared, not taken by one).
        for got in each { XCTAssertGreaterThan(got, bytes / 5, "per connection: \(each)", file: file, line: line) }
    }
}
