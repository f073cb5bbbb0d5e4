import Logging
import NIOCore
import NIOHTTP2
import Shared

/// HTTP/2 for visitors whose TLS the relay terminated and who chose `h2` by ALPN: the connection
/// gets NIOHTTP2's server handler, and every stream its own `HTTP2StreamHandler` (routing by
/// `:authority`, one Mux stream per h2 stream, kept alive for the connection's next streams of
/// the same tunnel when the local service speaks HTTP/1.1: `HTTP2UpstreamPool`).
///
/// Flow control, end to end: each h2 stream grants the visitor `streamWindow` bytes and only
/// hands out more as its handler reads, which it does only while the upstream Mux stream is
/// writable; so at most `streamWindow` per stream (and `maxConcurrentStreams` streams) is held
/// here, and a stream whose local service is slow stalls alone. The other way, the upstream is
/// read only while the visitor's stream is writable (which NIOHTTP2 ties to the visitor's window
/// for that stream).
enum HTTP2Ingress {
    /// Streams one visitor connection may have open at once.
    static let maxConcurrentStreams = 128
    /// The flow-control window per stream (request bodies).
    static let streamWindow = 256 * 1024
    /// The connection's window: enough for several streams uploading at once.
    static let connectionWindow = 4 * 1024 * 1024
    /// Outbound bytes a stream may queue before it reports unwritable (and its upstream is no
    /// longer read).
    static let streamOutboundHighWatermark = 64 * 1024

    /// Installs HTTP/2 on `channel` (on its loop, after TLS and ALPN).
    static func configure(
        _ channel: Channel, directory: any TunnelDirectory, logger: Logger, visitor: HTTP2StreamHandler.Visitor,
        idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, gate: VisitorGate? = nil, observers: RelayObservers? = nil,
        route: @escaping @Sendable (_ host: String, _ path: String?) -> HTTP2StreamStateMachine.Route?
    ) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HTTPFraming.maxHead),
        ]
        connection.targetWindowSize = connectionWindow
        var streams = NIOHTTP2Handler.StreamConfiguration()
        streams.targetWindowSize = streamWindow
        streams.outboundBufferSizeHighWatermark = streamOutboundHighWatermark
        streams.outboundBufferSizeLowWatermark = streamOutboundHighWatermark / 2
        let ops = channel.pipeline.syncOperations
        let pool = NIOLoopBound(HTTP2UpstreamPool(), eventLoop: channel.eventLoop)
        let idle = HTTP2IdleHandler(idleTimeout: idleTimeout, pool: pool.value)
        // Before NIOHTTP2's handler, so it sits between it and TLS.
        let flusher = HTTP2FlushBatcher()
        try ops.addHandler(flusher)
        let batcher = NIOLoopBound(flusher, eventLoop: channel.eventLoop)
        _ = try ops.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: streams, streamDelegate: idle.streamDelegate(on: channel.eventLoop)
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let handler = HTTP2StreamHandler(
                    directory: directory, pool: pool.value, flusher: batcher.value, logger: logger, visitor: visitor, idleTimeout: idleTimeout, gate: gate, observers: observers, route: route)
                try stream.pipeline.syncOperations.addHandler(handler)
            }
        }
        try ops.addHandler(idle)
    }

    /// How a host's h2 requests are routed: its tunnel, the rule's upstream protocol, HSTS by the
    /// rule's value else `defaultHSTS`.
    static func route(directory: any TunnelDirectory, defaultHSTS: Int?) -> @Sendable (_ host: String, _ path: String?) -> HTTP2StreamStateMachine.Route? {
        { host, path in
            guard let found = directory.route(host: host, path: path) else { return nil }
            let options = directory.options(forHost: host)
            var route = HTTP2StreamStateMachine.Route(tunnel: found.tunnel, upstream: options?.upstream ?? .http1, policies: found.layers)
            if let maxAge = options?.hstsMaxAge ?? defaultHSTS, maxAge > 0 {
                route.responseHeaders = [.init(name: "strict-transport-security", value: "max-age=\(maxAge)")]
            }
            return route
        }
    }
}
