import Logging
import NIOCore

/// Serves HTTP, SOCKS4 and SOCKS5 on one port, told apart by the first byte (4, 5, else HTTP).
public struct AutoHandler: StreamHandler {
    let http: HTTPHandler
    let socks4: SOCKS4Handler
    let socks5: SOCKS5Handler

    public init(options: ComponentOptions = ComponentOptions(), auth: Authenticator) {
        self.http = HTTPHandler(options: options, auth: auth)
        self.socks4 = SOCKS4Handler(options: options, auth: auth)
        self.socks5 = SOCKS5Handler(options: options, auth: auth)
    }

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        let first = try await io.read { buffer in buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) }
        switch first {
        case 0x05: try await socks5.handle(io, context: context)
        case 0x04: try await socks4.handle(io, context: context)
        default: try await http.handle(io, context: context)
        }
    }
}
