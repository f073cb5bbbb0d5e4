import Logging
import Mux
import NIOCore
import Shared
import TunnelProtocol

/// The relay's `socks5` service: standard SOCKS5 (CONNECT, UDP ASSOCIATE) plus, with `bind=true`,
/// the private mux-bind commands (`SOCKS5MuxBind`) that GOST's rtcp/rudp through a SOCKS5 node
/// turn into. A mux-bind opens the requested port on the relay and then serves the connection as
/// an agent session (Mux), limited to that one port: the SOCKS5 authentication is the
/// authorization, so no token is asked for.
public struct RelaySOCKS5Handler: StreamHandler {
    public let socks: SOCKS5Handler
    /// GOST's `bind` metadata (off by default): whether the private commands are served.
    public let bindEnabled: Bool
    public let directory: any TunnelDirectory
    public let ports: RemotePorts?
    public let owners: SOCKS5BindOwners
    /// The relay's claims table, shared with agents' tokens (nil: none kept).
    public let claims: ClaimOwners?
    public let muxConfiguration: MuxConfiguration

    public init(
        options: ComponentOptions = ComponentOptions(), auth: Authenticator, directory: any TunnelDirectory, ports: RemotePorts?,
        owners: SOCKS5BindOwners, claims: ClaimOwners? = nil, muxConfiguration: MuxConfiguration = .tunnel
    ) {
        self.claims = claims
        self.socks = SOCKS5Handler(options: options, auth: auth)
        self.bindEnabled = RelaySOCKS5Options(metadata: options.metadata).bind
        self.directory = directory
        self.ports = ports
        self.owners = owners
        self.muxConfiguration = muxConfiguration
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let user = try await socks.authenticate(io, logger: context.logger)
        let request = try await socks.readRequest(io)
        guard let udp = SOCKS5MuxBind.isUDP(command: request.command) else {
            try await socks.serve(request, io, context: context)
            return
        }
        let what = "\(udp ? "udp" : "tcp") port \(request.address.port)"
        guard bindEnabled, !udp || socks.udpEnabled else {
            try? await io.write(SOCKS5Handler.reply(0x07))
            throw EngineError(.unsupported, "SOCKS5 mux-bind of \(what) refused: \(bindEnabled ? "udp" : "bind") is off on this service")
        }
        try await bind(io, port: request.address.port, udp: udp, user: user, logger: context.logger)
    }

    /// Opens the port, answers, and hands the connection to the agent-session code.
    func bind(_ io: Handshake, port: Int, udp: Bool, user: String?, logger: Logger) async throws {
        let kind = udp ? "udp" : "tcp"
        let tunnel = SOCKS5MuxBind.tunnelID(port: port, udp: udp)
        let who = user.map { "user \"\($0)\"" } ?? "anonymous client"
        let peer = io.channel.remoteAddress.map { "\($0)" } ?? "?"
        func refuse(_ code: UInt8, _ reason: String) async -> EngineError {
            try? await io.write(SOCKS5Handler.reply(code))
            return EngineError(code == 0x05 ? .connectionRefused : .notAllowed, "SOCKS5 mux-bind of \(kind) port \(port) refused for \(who): \(reason)")
        }
        guard let ports else { throw await refuse(0x02, "this relay opens no ports") }
        guard owners.acquire(tunnel, user: user ?? "") else { throw await refuse(0x02, "the port is bound by another user") }
        // The same table as agents' tokens: a port a token holds is not bound through SOCKS5, nor
        // the other way round, even while its holder is offline (the SOCKS5 user is the principal).
        if let claims, let reason = claims.claim([.init(.port, "\(kind)/\(port)")], by: "socks5:\(user ?? "")") {
            owners.release(tunnel)
            throw await refuse(0x02, reason)
        }
        let owners = self.owners
        let directory = self.directory
        // Undoes the claim once no session of this tunnel is left (a session that never registered
        // leaves nothing in the directory to trigger the usual release).
        let leave: @Sendable () -> Void = {
            owners.release(tunnel)
            if !directory.isKnown(tunnel) { ports.release(tunnel: tunnel) }
        }
        do {
            let claimed = udp ? ports.claimUDP(port, tunnel: tunnel, on: io.channel.eventLoop) : ports.claim(port, tunnel: tunnel, on: io.channel.eventLoop)
            try await claimed.get()
        } catch {
            owners.release(tunnel)
            throw await refuse(SOCKS5Handler.code(for: error), "\(error)")
        }
        let session: MuxSession
        do {
            let bound = HostPort(host: io.channel.localAddress?.ipAddress ?? "0.0.0.0", port: port)
            try await io.write(SOCKS5Handler.reply(0x00, bound: bound))
            logger.info("socks5 mux-bind", metadata: ["port": "\(kind)/\(port)", "client": "\(peer)", "user": "\(user ?? "")"])
            session = try await RelayAgentHandler.startSession(
                io, peer: peer, directory: directory, ports: ports, muxConfiguration: muxConfiguration, logger: logger,
                refusal: { hello in
                    let refusal = Self.refusal(for: hello, tunnel: tunnel, port: port, udp: udp)
                    if refusal != nil { AgentEndpointMetrics.refused(.muxBindClaim) }
                    return refusal
                },
                onFailure: {})
        } catch {
            leave()
            throw error
        }
        session.closeFuture.whenComplete { _ in leave() }
    }

    /// A mux-bind session may serve only its own tunnel and port: nil when `hello` claims exactly
    /// that, otherwise the reason (logged by the relay; the agent is told "unauthorized").
    static func refusal(for hello: TunnelMessages.Hello, tunnel: String, port: Int, udp: Bool) -> String? {
        guard hello.tunnels.count == 1, let claim = hello.tunnels.first else {
            return "a SOCKS5 mux-bind session serves exactly one tunnel"
        }
        guard claim.id == tunnel else { return "tunnel \(claim.id) is not the bound \(tunnel)" }
        guard (claim.hostnames ?? []).isEmpty else { return "hostnames cannot be claimed through SOCKS5" }
        let claimed = (claim.ports ?? []).map { "tcp/\($0)" } + (claim.udpPorts ?? []).map { "udp/\($0)" }
        let bound = "\(udp ? "udp" : "tcp")/\(port)"
        guard claimed == [bound] else { return "the hello claims \(claimed), the SOCKS5 request bound \(bound)" }
        return nil
    }
}
