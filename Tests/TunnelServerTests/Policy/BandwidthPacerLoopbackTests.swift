import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import TunnelServer

/// The aggregate limit measured on real sockets: two TCP connections on loopback, each downloading
/// as fast as a local NIO server can send, share one `BandwidthBudget` through their pacers; the
/// bytes both receive in 3 s come to the budget's rate (±15 %), not twice it. A measured property of
/// the limiter's correctness (a per-connection limiter gives 2×), not a performance check: the
/// loopback could carry hundreds of times more.
final class BandwidthPacerLoopbackTests: XCTestCase {
    /// Sends the same 64 KiB chunk for as long as the connection is writable (bounded by the
    /// channel's write-buffer water marks), until closed.
    final class Pump: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

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

        // Measure from a point in the flow (the initial burst and socket buffers already drawn),
        // over 3 s.
        Thread.sleep(forTimeInterval: 0.5)
        let startBytes = perClient.map(\.value)
        let start = DispatchTime.now().uptimeNanoseconds
        Thread.sleep(forTimeInterval: 3)
        let each = zip(perClient, startBytes).map { $0.value - $1 }
        let bytes = each.reduce(0, +)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let measured = Double(bytes) / elapsed
        XCTAssertGreaterThan(measured, Double(rate) * 0.85, "measured \(Int(measured)) B/s over \(elapsed) s")
        XCTAssertLessThan(measured, Double(rate) * 1.15, "measured \(Int(measured)) B/s over \(elapsed) s")
        // Both downloads ran (the budget is shared, not taken by one).
        for got in each { XCTAssertGreaterThan(got, bytes / 5, "per connection: \(each)") }
        for c in clients { XCTAssertTrue(c.isActive) }
    }
}
