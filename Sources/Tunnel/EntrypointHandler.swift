import Logging
import Mux
import NIOCore
import Shared

/// The relay's public entrypoint: one port for HTTP (routed by `Host`) and TLS (routed by the
/// ClientHello's SNI, passed through without termination), told apart by the first byte as GOST
/// does. The connection is carried as one Mux stream of an agent session that serves the tunnel.
public struct EntrypointHandler: StreamHandler {
    public let registry: TunnelRegistry

    public init(registry: TunnelRegistry) {
        self.registry = registry
    }

    enum Route: Sendable {
        case http(host: String?)
        case tls(ClientHello.Peek)
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let route = try await io.read { buffer -> Route? in
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            if first == 0x16 {
                let peek = ClientHello.peek(buffer)
                if peek == .needMore {
                    if buffer.readableBytes > ClientHello.maxRecord { return .tls(.noServerName) }
                    return nil
                }
                return .tls(peek)
            }
            // HTTP: wait for the whole head, but leave every byte in place for the agent.
            let view = buffer.readableBytesView
            guard view.firstRange(of: [13, 10, 13, 10]) != nil else { return nil }
            return .http(host: Self.hostHeader(view))
        }
        let client = io.channel.remoteAddress.map { "\($0.hostPort)" }
        let server = io.channel.localAddress.map { "\($0.hostPort)" }
        switch route {
        case .tls(let peek):
            guard case .serverName(let name) = peek, let tunnel = registry.tunnel(forHost: name), let session = registry.session(for: tunnel) else {
                try? await io.write(ClientHello.unrecognizedNameAlert)
                throw EngineError(.notAllowed, "TLS entrypoint: no tunnel for \(peek)")
            }
            try await Self.forward(io, session: session, header: .init(tunnel: tunnel, client: client, host: name, server: server), registry: registry, logger: context.logger)
        case .http(let host):
            guard let host, let tunnel = registry.tunnel(forHost: host) else {
                try? await io.write(Self.page(404, "Not Found", "no tunnel serves host \(host ?? "(none)")"))
                throw EngineError(.notAllowed, "HTTP entrypoint: no tunnel for host \(host ?? "(none)")")
            }
            guard let session = registry.session(for: tunnel) else {
                try? await io.write(Self.page(502, "Bad Gateway", "the tunnel for \(host) is offline"))
                throw EngineError(.connectFailed, "HTTP entrypoint: tunnel \(tunnel) has no agent")
            }
            try await Self.forward(io, session: session, header: .init(tunnel: tunnel, client: client, host: host, server: server), registry: registry, logger: context.logger)
        }
    }

    /// Carries a public connection as a new stream of `first` (or, if that session just died,
    /// of another session of the tunnel), joined to the connection.
    static func forward(_ io: Handshake, session first: MuxSession, header: TunnelMessages.StreamHeader, registry: TunnelRegistry, logger: Logger) async throws {
        var session = first
        var stream: Channel?
        for attempt in 0..<3 {
            do {
                stream = try await session.openStream(metadata: TunnelMessages.encode(header)) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                        try stream.syncOptions!.setOption(ChannelOptions.autoRead, value: false)
                    }
                }.get()
                break
            } catch {
                logger.debug("entrypoint: stream open failed, trying another session", metadata: ["tunnel": "\(header.tunnel)", "attempt": "\(attempt)", "error": "\(error)"])
                guard let next = registry.session(for: header.tunnel), next !== session else { throw error }
                session = next
            }
        }
        guard let stream else { throw EngineError(.connectFailed, "no live session for tunnel \(header.tunnel)") }
        logger.debug("entrypoint stream", metadata: ["tunnel": "\(header.tunnel)", "host": "\(header.host ?? "")", "client": "\(header.client ?? "")"])
        try await io.splice(withChannel: stream)
    }

    static func hostHeader(_ head: ByteBufferView) -> String? {
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n").dropFirst() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "host" {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    static func page(_ code: Int, _ reason: String, _ message: String) -> String {
        let body = "<!doctype html><title>\(code) \(reason)</title><h1>\(code) \(reason)</h1><p>\(message)</p>\n"
        return "HTTP/1.1 \(code) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }
}
