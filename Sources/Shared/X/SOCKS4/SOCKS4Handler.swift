import Logging
import NIOCore

/// SOCKS4 and SOCKS4a server (CONNECT only). With credentials configured, the user ID must name
/// a user with an empty password, since SOCKS4 carries no password.
public struct SOCKS4Handler: StreamHandler {
    public let auth: Authenticator

    public init(options: ComponentOptions = ComponentOptions(), auth: Authenticator) {
        self.auth = auth
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let (cmd, target, user) = try await io.read { buffer -> (UInt8, HostPort, String)? in
            guard let head = buffer.readBytes(length: 8) else { return nil }
            guard head[0] == 0x04 else { throw EngineError(.protocolViolation, "not SOCKS4 (version byte \(head[0]))") }
            let port = Int(head[2]) << 8 | Int(head[3])
            guard let userEnd = buffer.readableBytesView.firstIndex(of: 0) else {
                if buffer.readableBytes > 255 { throw EngineError(.protocolViolation, "SOCKS4 user ID too long") }
                return nil
            }
            let user = String(decoding: buffer.readBytes(length: userEnd - buffer.readerIndex)!, as: UTF8.self)
            buffer.moveReaderIndex(forwardBy: 1)
            var host = "\(head[4]).\(head[5]).\(head[6]).\(head[7])"
            if head[4] == 0, head[5] == 0, head[6] == 0, head[7] != 0 {
                guard let nameEnd = buffer.readableBytesView.firstIndex(of: 0) else {
                    if buffer.readableBytes > 255 { throw EngineError(.protocolViolation, "SOCKS4a host name too long") }
                    return nil
                }
                host = String(decoding: buffer.readBytes(length: nameEnd - buffer.readerIndex)!, as: UTF8.self)
                buffer.moveReaderIndex(forwardBy: 1)
            }
            return (head[1], HostPort(host: host, port: port), user)
        }
        guard auth.isOpen || auth.verify(username: user, password: "") else {
            try? await io.write(Self.reply(0x5B))
            throw EngineError(.authenticationFailed, "SOCKS4 user ID \"\(user)\" not allowed")
        }
        guard cmd == 0x01 else {
            try? await io.write(Self.reply(0x5B))
            throw EngineError(.unsupported, "SOCKS4 command \(cmd) not supported")
        }
        let upstream: Handshake
        do {
            upstream = try await context.router.dial(target, on: io.channel.eventLoop, logger: context.logger)
        } catch {
            try? await io.write(Self.reply(0x5B))
            throw error
        }
        try await io.write(Self.reply(0x5A))
        try await io.splice(with: upstream)
    }

    static func reply(_ code: UInt8) -> [UInt8] {
        [0x00, code, 0, 0, 0, 0, 0, 0]
    }
}
