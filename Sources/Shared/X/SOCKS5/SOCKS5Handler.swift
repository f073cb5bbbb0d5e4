import Logging
import NIOCore

/// SOCKS5 server (RFC 1928): CONNECT and UDP ASSOCIATE, with RFC 1929 username/password.
/// Names are resolved here at the proxy, so clients may send them unresolved (`--socks5-hostname`).
public struct SOCKS5Handler: StreamHandler {
    public let auth: Authenticator
    /// Whether UDP ASSOCIATE is served (GOST's `udp` metadata; on by default here).
    public let udpEnabled: Bool

    public init(options: ComponentOptions = ComponentOptions(), auth: Authenticator) {
        self.auth = auth
        self.udpEnabled = SOCKS5Options(metadata: options.metadata).udp
    }

    enum Command: UInt8 {
        case connect = 0x01
        case bind = 0x02
        case udpAssociate = 0x03
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        _ = try await authenticate(io, logger: context.logger)
        let request = try await readRequest(io)
        try await serve(request, io, context: context)
    }

    /// Reads the request that follows the greeting. An unknown address type is answered with 0x08.
    public func readRequest(_ io: Handshake) async throws -> SOCKS5Request {
        do {
            return try await io.read { buffer in try SOCKS5Request.parse(&buffer) }
        } catch let e as SOCKSAddressTypeError {
            try? await io.write(Self.reply(0x08))
            throw EngineError(.unsupported, e.description)
        }
    }

    /// Serves a standard request (CONNECT, UDP ASSOCIATE); any other command is answered with 0x07.
    /// Separate from `handle` so a handler that adds commands of its own can read the request first
    /// and pass on the ones it does not know.
    public func serve(_ request: SOCKS5Request, _ io: Handshake, context: HandlerContext) async throws {
        switch Command(rawValue: request.command) {
        case .connect:
            try await connect(io, to: request.address, context: context)
        case .udpAssociate where udpEnabled:
            try await SOCKS5UDPAssociation.serve(io, requested: request.address, context: context)
        default:
            try? await io.write(Self.reply(0x07))
            throw EngineError(.unsupported, "SOCKS5 command \(request.command) not supported")
        }
    }

    /// Method selection and, when credentials are configured, RFC 1929 sub-negotiation. Returns the
    /// authenticated user name, or nil when the proxy is open. A refusal is answered, then thrown.
    @discardableResult
    public func authenticate(_ io: Handshake, logger: Logger) async throws -> String? {
        let methods = try await io.read { buffer -> [UInt8]? in
            guard let head = buffer.readBytes(length: 2) else { return nil }
            guard head[0] == 0x05 else { throw EngineError(.protocolViolation, "not SOCKS5 (version byte \(head[0]))") }
            guard head[1] > 0 else { throw EngineError(.protocolViolation, "SOCKS5 greeting offers no methods") }
            return buffer.readBytes(length: Int(head[1]))
        }
        if auth.isOpen {
            guard methods.contains(0x00) else {
                try? await io.write([0x05, 0xFF])
                throw EngineError(.authenticationFailed, "SOCKS5 client offers no method we accept")
            }
            try await io.write([0x05, 0x00])
            return nil
        }
        guard methods.contains(0x02) else {
            try? await io.write([0x05, 0xFF])
            throw EngineError(.authenticationFailed, "SOCKS5 client did not offer username/password")
        }
        try await io.write([0x05, 0x02])
        let (user, pass) = try await io.read { buffer -> (String, String)? in
            guard let ver = buffer.readInteger(as: UInt8.self) else { return nil }
            guard ver == 0x01 else { throw EngineError(.protocolViolation, "SOCKS5 auth version \(ver)") }
            guard let ulen = buffer.readInteger(as: UInt8.self), let u = buffer.readBytes(length: Int(ulen)),
                let plen = buffer.readInteger(as: UInt8.self), let p = buffer.readBytes(length: Int(plen))
            else { return nil }
            return (String(decoding: u, as: UTF8.self), String(decoding: p, as: UTF8.self))
        }
        guard auth.verify(username: user, password: pass) else {
            try? await io.write([0x01, 0x01])
            throw EngineError(.authenticationFailed, "SOCKS5 authentication failed for user \"\(user)\"")
        }
        try await io.write([0x01, 0x00])
        return user
    }

    private func connect(_ io: Handshake, to target: HostPort, context: HandlerContext) async throws {
        let upstream: Handshake
        do {
            upstream = try await context.router.dial(target, on: io.channel.eventLoop, logger: context.logger)
        } catch {
            try? await io.write(Self.reply(Self.code(for: error)))
            throw error
        }
        let bound = upstream.channel.localAddress?.hostPort ?? HostPort(host: "0.0.0.0", port: 0)
        do {
            try await io.write(Self.reply(0x00, bound: bound))
        } catch {
            upstream.close()
            throw error
        }
        context.logger.debug("socks5 connect", metadata: ["target": "\(target)"])
        try await io.splice(with: upstream)
    }

    /// A reply: `VER REP RSV` and the bound address.
    public static func reply(_ code: UInt8, bound: HostPort = HostPort(host: "0.0.0.0", port: 0)) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: [0x05, code, 0x00])
        SOCKSAddress.write(bound, to: &buffer)
        return buffer
    }

    /// The reply code for an engine error (0x02 not allowed, 0x05 refused, ...).
    public static func code(for error: Error) -> UInt8 {
        guard let e = error as? EngineError else { return 0x01 }
        switch e.kind {
        case .connectionRefused: return 0x05
        case .hostUnreachable: return 0x04
        case .timeout: return 0x06
        case .notAllowed: return 0x02
        case .unsupported: return 0x07
        default: return 0x01
        }
    }
}
