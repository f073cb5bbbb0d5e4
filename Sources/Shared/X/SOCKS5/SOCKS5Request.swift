import NIOCore

/// A SOCKS5 request (RFC 1928 §4): `VER CMD RSV ATYP DST.ADDR DST.PORT`, and the reply, which has
/// the same layout with `REP` in place of `CMD`. Shared by the handler, the connector and the
/// tunnel's private commands, so the byte layout is written in one place.
public struct SOCKS5Request: Sendable, Equatable {
    public var command: UInt8
    public var address: HostPort

    public init(command: UInt8, address: HostPort) {
        self.command = command
        self.address = address
    }

    /// Parses a request (or, with `what: "reply"`, a reply); nil while incomplete. A version other
    /// than 5 is a protocol violation; an unknown address type throws `SOCKSAddressTypeError` (the
    /// caller replies 0x08).
    public static func parse(_ buffer: inout ByteBuffer, what: String = "request") throws -> SOCKS5Request? {
        guard let head = buffer.readBytes(length: 3) else { return nil }
        guard head[0] == 0x05 else { throw EngineError(.protocolViolation, "SOCKS5 \(what) with version \(head[0])") }
        guard let address = try SOCKSAddress.read(from: &buffer) else { return nil }
        return SOCKS5Request(command: head[1], address: address)
    }

    /// Appends the request's bytes.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes([0x05, command, 0x00])
        SOCKSAddress.write(address, to: &buffer)
    }

    /// The request's bytes.
    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return buffer
    }
}
