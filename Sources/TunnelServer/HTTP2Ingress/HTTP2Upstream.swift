import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Operations
import NIOHTTP1
import NIOHTTP2
import Shared
import TunnelProtocol

/// Opens the upstream of one visitor h2 stream: a Mux stream of the tunnel (one per h2 stream,
/// so streams are as independent at the agent as at the visitor), set up for what the local
/// service speaks.
///
/// - `http1`: NIO's HTTP/1.1 client codec and `HTTP1UpstreamTranslator` on the Mux stream.
/// - `h2c`: an h2 client connection (prior knowledge) on the Mux stream, with one stream, whose
///   frames pass through as they are (trailers, gRPC).
enum HTTP2Upstream {
    /// What the relay announces to an h2c local service, and the window it grants per stream.
    static let h2cWindow = 256 * 1024

    static func open(
        _ proto: RuleOptions.UpstreamProtocol, session: MuxSession, header: TunnelMessages.StreamHeader, directory: any TunnelDirectory,
        near loop: EventLoop, logger: Logger, budgets: [BandwidthBudget] = [], traffic: TunnelTraffic? = nil,
        handler: @escaping @Sendable (_ carrier: Channel?) -> HTTP2UpstreamHandler,
        made: NIOLockedValueBox<CrossLoopRef<HTTP2UpstreamHandler>?>
    ) -> EventLoopFuture<Channel> {
        switch proto {
        case .http1:
            return EntrypointHandler.openStream(session: session, header: header, directory: directory, near: loop, logger: logger, traffic: traffic) { stream in
                let upstream = handler(nil)
                let ops = stream.pipeline.syncOperations
                // The tunnel's bandwidth: the answer is paced by reads held back.
                for budget in budgets { try ops.addHandler(BandwidthPacer(budget: budget)) }
                try ops.addHandler(HTTPRequestEncoder())
                try ops.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
                try ops.addHandler(HTTP1UpstreamTranslator())
                try ops.addHandler(upstream)
                made.withLockedValue { $0 = CrossLoopRef(upstream, on: stream.eventLoop) }
            }
        case .h2c:
            return EntrypointHandler.openStream(session: session, header: header, directory: directory, near: loop, logger: logger, traffic: traffic) { stream in
                for budget in budgets { try stream.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget)) }
                var connection = NIOHTTP2Handler.ConnectionConfiguration()
                connection.initialSettings = [
                    HTTP2Setting(parameter: .maxConcurrentStreams, value: 1),
                    HTTP2Setting(parameter: .initialWindowSize, value: h2cWindow),
                    HTTP2Setting(parameter: .enablePush, value: 0),
                ]
                var streams = NIOHTTP2Handler.StreamConfiguration()
                streams.targetWindowSize = h2cWindow
                _ = try stream.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: connection, streamConfiguration: streams
                ) { pushed in
                    pushed.close()
                }
            }.flatMap { stream in
                stream.eventLoop.flatSubmit {
                    do {
                        let multiplexer = try stream.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                        return multiplexer.createStreamChannel { child in
                            child.eventLoop.makeCompletedFuture {
                                let upstream = handler(stream)
                                try child.pipeline.syncOperations.addHandler(upstream)
                                made.withLockedValue { $0 = CrossLoopRef(upstream, on: child.eventLoop) }
                            }
                        }.flatMapError { error in
                            stream.close(promise: nil)
                            return stream.eventLoop.makeFailedFuture(error)
                        }
                    } catch {
                        stream.close(promise: nil)
                        return stream.eventLoop.makeFailedFuture(error)
                    }
                }
            }
        }
    }
}
