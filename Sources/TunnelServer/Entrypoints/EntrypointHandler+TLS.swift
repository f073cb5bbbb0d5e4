import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Shared
import TunnelProtocol

extension EntrypointHandler {
    /// Serves a TLS connection as `TLSRoute` decides from its ClientHello (still unconsumed in
    /// `io`'s reader).
    func serveTLS(_ io: Handshake, hello: ClientHello.Info, peer: SocketAddress?, context: HandlerContext) async throws {
        let directory = self.directory
        let store = https?.certificates
        let facts = TLSRoute.Facts(
            agentALPN: TunnelMessages.agentALPN, hasAgentEndpoint: agents?.isAvailable ?? false, relayNames: https?.relayNames ?? [],
            hasChallenge: { store?.challenge(for: $0) != nil },
            hasCertificate: { store?.certificate(forServerName: $0) != nil },
            mode: { directory.options(forHost: $0)?.tls },
            tunnel: { directory.tunnel(forHost: $0) })
        let client = peer.map { "\($0.hostPort)" }
        let server = io.channel.localAddress.map { "\($0.hostPort)" }
        switch TLSRoute.decide(hello, facts) {
        case .agent:
            guard let agents else { throw EngineError(.notAllowed, "TLS entrypoint: no agent endpoint") }
            try await agents.attach(io, context: context)
        case .acmeChallenge(let name):
            guard let challenge = store?.challenge(for: name) else {
                try? await io.write(ClientHello.unrecognizedNameAlert)
                throw EngineError(.notAllowed, "TLS entrypoint: the ACME challenge for \(name) is over")
            }
            context.logger.info("answering an ACME TLS-ALPN-01 validation", metadata: ["hostname": "\(name)", "client": "\(client ?? "")"])
            try await terminate(io, with: challenge, context: context) { _, channel in
                // The validation only looks at the certificate; nothing is served after it.
                channel.close(promise: nil)
            }
        case .terminate(let name):
            guard let certificate = store?.certificate(forServerName: name) else {
                try? await io.write(ClientHello.unrecognizedNameAlert)
                throw EngineError(.notAllowed, "TLS entrypoint: the certificate for \(name) went away")
            }
            let logger = context.logger
            let idleTimeout = self.idleTimeout
            // HSTS by the name the visitor connected to: the rule's value, else the relay's. (On
            // h2, by each stream's :authority.)
            let hsts = (directory.options(forHost: name)?.hstsMaxAge ?? https?.hstsMaxAge).flatMap { $0 > 0 ? $0 : nil }
            let h2Route = HTTP2Ingress.route(directory: directory, defaultHSTS: https?.hstsMaxAge)
            let entrypoint = self
            try await terminate(io, with: certificate.context, context: context) { negotiated, channel in
                if negotiated == "h2" {
                    // h2 never reaches the agent path: agents upgrade over HTTP/1.1 only.
                    let visitor = HTTP2StreamHandler.Visitor(client: client, clientIP: peer?.ipAddress, server: server, source: peer, service: context.serviceName)
                    try HTTP2Ingress.configure(channel, directory: directory, logger: logger, visitor: visitor, idleTimeout: idleTimeout, gate: entrypoint.gate, observers: entrypoint.observers, route: h2Route)
                    return
                }
                // Of the relay's own answers, HTTPS has only the agent path (`agentRequests`).
                let ingress = entrypoint.ingress(for: channel, peer: peer, context: context, scheme: "https", hstsMaxAge: hsts, reserved: entrypoint.agentRequests())
                try channel.pipeline.syncOperations.addHandler(ingress)
            }
        case .passthrough(let tunnel, let name):
            guard let session = directory.session(for: tunnel, near: io.channel.eventLoop) else {
                try? await io.write(ClientHello.unrecognizedNameAlert)
                throw EngineError(.connectFailed, "TLS entrypoint: tunnel \(tunnel) has no agent")
            }
            // The rule's visitor policy, on the connection (its bytes are never read here).
            let grant = try await admit(io, peer: peer, tunnel: tunnel, layers: directory.route(host: name, path: nil)?.layers ?? [], host: name) {
                try? await io.write(ClientHello.accessDeniedAlert)
            }
            let header = TunnelMessages.StreamHeader(tunnel: tunnel, client: client, host: name, server: server)
            try await Self.forward(io, session: session, header: header, directory: directory, logger: context.logger, budgets: grant.budgets, traffic: observers?.traffic)
        case .refuse(let reason):
            try? await io.write(ClientHello.unrecognizedNameAlert)
            throw EngineError(.notAllowed, "TLS entrypoint: \(reason)")
        }
    }

    /// Terminates TLS with `tls` in front of the bytes `io` has buffered, then, once the
    /// handshake has settled the application protocol, lets `serve` install what speaks it. A
    /// handshake not done within the head timeout closes the connection (a stalled ClientHello
    /// must not hold a descriptor any longer than a stalled request head).
    func terminate(
        _ io: Handshake, with tls: NIOSSLContext, context: HandlerContext,
        serve: @escaping @Sendable (_ negotiated: String?, _ channel: Channel) throws -> Void
    ) async throws {
        let headTimeout = self.headTimeout
        let logger = context.logger
        try await io.handOver { channel, reader in
            let ops = channel.pipeline.syncOperations
            let deadline = channel.eventLoop.scheduleTask(in: headTimeout) {
                logger.debug("TLS entrypoint: handshake timed out", metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                channel.close(promise: nil)
            }
            let ssl = NIOSSLServerHandler(context: tls)
            let alpn = ApplicationProtocolNegotiationHandler { result, channel in
                deadline.cancel()
                var negotiated: String?
                if case .negotiated(let name) = result { negotiated = name }
                return channel.eventLoop.makeCompletedFuture { try serve(negotiated, channel) }
            }
            try ops.addHandler(ssl, position: .after(reader))
            try ops.addHandler(alpn, position: .after(ssl))
            channel.closeFuture.whenComplete { _ in deadline.cancel() }
        }
    }
}

extension EntrypointHandler {
    /// What this entrypoint's plain-HTTP side answers itself (nil without HTTPS settings).
    func reservedRequests(localPort: Int?) -> ReservedRequests? {
        guard let https else { return agentRequests() }
        let directory = self.directory
        let store = https.certificates
        let redirectAll = https.redirectHTTPS
        return ReservedRequests(
            tokens: https.tokens,
            redirects: { host in
                (directory.options(forHost: host)?.redirectHTTPS ?? redirectAll) && store.certificate(forServerName: host) != nil
            },
            httpsPort: https.httpsPort ?? localPort, agentPath: agentPath())
    }
}

extension EntrypointHandler {
    /// Which requests on the agent path are the relay's (`AgentWebSocketRequest`): those whose
    /// `Host` is one of the relay's own names or a name no rule routes. Nil without an agent
    /// endpoint to hand them to.
    func agentPath() -> (@Sendable (HTTPFraming.Head) -> AgentWebSocketRequest.Decision)? {
        guard agents?.isAvailable == true else { return nil }
        let directory = self.directory
        let relayNames = https?.relayNames ?? []
        return { head in
            AgentWebSocketRequest.decide(head) { host in
                let name = HostTable<String>.hostName(host)
                return relayNames.contains(name) || directory.tunnel(forHost: host) == nil
            }
        }
    }

    /// The relay's own answers where the agent path is all there is (no HTTPS settings, or HTTPS).
    func agentRequests() -> ReservedRequests? {
        agentPath().map { ReservedRequests(tokens: nil, redirects: { _ in false }, httpsPort: nil, agentPath: $0) }
    }
}
