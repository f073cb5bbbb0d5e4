import Logging
import NIOCore

/// Asks a SOCKS5 proxy (RFC 1928) to CONNECT, authenticating with RFC 1929 when credentials are set.
public struct SOCKS5Connector: Connector {
    public var auth: Credentials?

    public init(options: ComponentOptions = ComponentOptions()) {
        self.auth = options.auth
    }

    public func connect(_ io: Handshake, to target: HostPort, logger: Logger) async throws {
        try await negotiate(io)
        try await io.write(SOCKS5Request(command: 0x01, address: target).encoded)
        let reply = try await Self.readReply(io)
        guard reply.code == 0x00 else {
            throw EngineError(Self.kind(ofReply: reply.code), "SOCKS5 proxy refused CONNECT \(target): \(Self.describe(reply: reply.code))")
        }
    }

    /// Reads a reply (`VER REP RSV` and the bound address).
    public static func readReply(_ io: Handshake) async throws -> (code: UInt8, bound: HostPort) {
        let reply = try await io.read { buffer in try SOCKS5Request.parse(&buffer, what: "reply") }
        return (reply.command, reply.address)
    }

    /// Method negotiation and, if chosen, username/password sub-negotiation. Public so protocols
    /// that extend SOCKS5 with commands of their own reuse it.
    public func negotiate(_ io: Handshake) async throws {
        try await io.write(auth == nil ? [0x05, 0x01, 0x00] : [0x05, 0x02, 0x00, 0x02])
        let method = try await io.readBytes(2)
        guard method[0] == 0x05 else { throw EngineError(.protocolViolation, "not a SOCKS5 server (version \(method[0]))") }
        switch method[1] {
        case 0x00:
            return
        case 0x02:
            guard let auth else { throw EngineError(.protocolViolation, "SOCKS5 server chose username/password that we did not offer") }
            let user = Array(auth.username.utf8.prefix(255))
            let pass = Array(auth.password.utf8.prefix(255))
            try await io.write([0x01, UInt8(user.count)] + user + [UInt8(pass.count)] + pass)
            let status = try await io.readBytes(2)
            guard status[1] == 0x00 else {
                throw EngineError(.authenticationFailed, "SOCKS5 server refused the username/password of user \"\(auth.username)\"")
            }
        case 0xFF:
            throw EngineError(.authenticationFailed, "SOCKS5 server accepts none of our methods (credentials required?)")
        default:
            throw EngineError(.protocolViolation, "SOCKS5 server chose unknown method \(method[1])")
        }
    }

    /// The engine error kind a reply code means.
    public static func kind(ofReply code: UInt8) -> EngineError.Kind {
        switch code {
        case 0x02: return .notAllowed
        case 0x03, 0x04: return .hostUnreachable
        case 0x05: return .connectionRefused
        case 0x06: return .timeout
        case 0x07, 0x08: return .unsupported
        default: return .connectFailed
        }
    }

    /// A reply code in words, for logs.
    public static func describe(reply code: UInt8) -> String {
        switch code {
        case 0x01: return "general failure"
        case 0x02: return "not allowed by ruleset"
        case 0x03: return "network unreachable"
        case 0x04: return "host unreachable"
        case 0x05: return "connection refused"
        case 0x06: return "TTL expired"
        case 0x07: return "command not supported"
        case 0x08: return "address type not supported"
        default: return "reply \(code)"
        }
    }
}

extension SOCKS5Connector: DatagramConnector {
    /// UDP ASSOCIATE: the node opens a relay socket for us and says where it is. A relay that
    /// answers with an unspecified address (0.0.0.0) means "the address you reached me on".
    public func associate(_ io: Handshake, logger: Logger) async throws -> HostPort {
        try await negotiate(io)
        try await io.write(SOCKS5Request(command: 0x03, address: HostPort(host: "0.0.0.0", port: 0)).encoded)
        let (code, bound) = try await Self.readReply(io)
        guard code == 0x00 else {
            throw EngineError(Self.kind(ofReply: code), "SOCKS5 proxy refused UDP ASSOCIATE: \(Self.describe(reply: code))")
        }
        if bound.host == "0.0.0.0" || bound.host == "0:0:0:0:0:0:0:0" || bound.host == "::" {
            return HostPort(host: io.channel.remoteAddress?.ipAddress ?? bound.host, port: bound.port)
        }
        return bound
    }
}
