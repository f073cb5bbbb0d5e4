import Logging
import NIOCore

/// Asks a SOCKS4 proxy to CONNECT; names go as SOCKS4a (0.0.0.1 plus the name) so the proxy resolves them.
public struct SOCKS4Connector: Connector {
    public var userID: String

    public init(options: ComponentOptions = ComponentOptions()) {
        self.userID = options.auth?.username ?? ""
    }

    public func connect(_ io: Handshake, to target: HostPort, logger: Logger) async throws {
        guard target.port > 0 else { throw EngineError(.protocolViolation, "SOCKS4 needs a port") }
        var request: [UInt8] = [0x04, 0x01, UInt8(target.port >> 8), UInt8(target.port & 0xff)]
        switch IPAddressBytes(target.dialHost) {
        case .v4(let b):
            request += b + Array(userID.utf8) + [0]
        case .v6:
            throw EngineError(.unsupported, "SOCKS4 cannot carry IPv6 address \(target.host)")
        case nil:
            request += [0, 0, 0, 1] + Array(userID.utf8) + [0] + Array(target.host.utf8) + [0]
        }
        try await io.write(request)
        let reply = try await io.readBytes(8)
        guard reply[1] == 0x5A else {
            throw EngineError(.connectFailed, "SOCKS4 proxy refused CONNECT \(target): code \(reply[1])")
        }
    }
}
