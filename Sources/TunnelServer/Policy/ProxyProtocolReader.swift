import NIOCore
import TunnelProtocol

/// Reads the PROXY protocol header (HAProxy's spec, v1 text and v2 binary) that a load balancer
/// in front of the relay puts at the start of each connection, to learn the visitor's address (the
/// connection's own peer is the load balancer). Only ever used on connections from a
/// `TrustedProxies` peer: from anyone else a header is not parsed, since a visitor could claim any
/// address with one.
///
/// `parse` looks at the bytes received so far and consumes nothing: the caller waits for more on
/// `.needMore`, skips `length` bytes on `.header`, and closes on `.invalid`. Bounded as the spec
/// asks: a v1 line is at most 107 bytes, a v2 header at most 16 + 536 (a larger length field is
/// refused before anything is waited for). v2 TLVs are skipped. The writer for the other direction
/// (the agent telling a local service) is `ProxyProtocol` in TunnelProtocol; its constants are
/// shared here.
public enum ProxyProtocolReader {
    public enum Result: Sendable, Hashable {
        /// Too few bytes yet to decide; read more (the bounds above keep the wait finite).
        case needMore
        /// A complete header of `length` bytes. The addresses are nil for v2 LOCAL (the balancer's
        /// own health check), v1 UNKNOWN and v2 UNSPEC or Unix families: the connection's own peer
        /// stands.
        case header(source: SocketAddress?, destination: SocketAddress?, length: Int)
        /// Not a PROXY header, or a malformed one: the connection should be closed.
        case invalid(reason: String)
    }

    /// The longest v1 header, CRLF included.
    public static let maxV1Length = 107
    /// The longest v2 address-and-TLV block accepted after the 16-byte fixed part.
    public static let maxV2Payload = 536
    public static let maxV2Length = 16 + maxV2Payload

    private static let v1Prefix = Array(ProxyProtocol.v1Prefix.utf8)
    private static let v2Signature = ProxyProtocol.v2Signature

    public static func parse(_ buffer: ByteBuffer) -> Result {
        let bytes = buffer.readableBytesView
        guard let first = bytes.first else { return .needMore }
        if first == v1Prefix[0] {
            guard bytes.starts(with: v1Prefix.prefix(bytes.count)) else { return .invalid(reason: "no PROXY protocol header") }
            return bytes.count < v1Prefix.count ? .needMore : parseV1(bytes)
        }
        if first == v2Signature[0] {
            guard bytes.starts(with: v2Signature.prefix(bytes.count)) else { return .invalid(reason: "no PROXY protocol header") }
            return parseV2(bytes)
        }
        return .invalid(reason: "no PROXY protocol header")
    }

    static func parseV1(_ bytes: ByteBufferView) -> Result {
        let window = bytes.prefix(maxV1Length)
        guard let cr = window.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
            return bytes.count >= maxV1Length ? .invalid(reason: "v1 header longer than \(maxV1Length) bytes") : .needMore
        }
        guard bytes[cr] == UInt8(ascii: "\r") else { return .invalid(reason: "v1 header not ended by CRLF") }
        let afterCR = window.index(after: cr)
        guard afterCR < window.endIndex else { return bytes.count >= maxV1Length ? .invalid(reason: "v1 header not ended by CRLF") : .needMore }
        guard bytes[afterCR] == UInt8(ascii: "\n") else { return .invalid(reason: "v1 header not ended by CRLF") }
        let length = bytes.distance(from: bytes.startIndex, to: afterCR) + 1
        let line = bytes[bytes.startIndex..<cr]
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return .invalid(reason: "v1 header is not printable ASCII") }
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        switch fields.count > 1 ? fields[1] : "" {
        case "UNKNOWN":
            return .header(source: nil, destination: nil, length: length)
        case "TCP4", "TCP6":
            let v6 = fields[1] == "TCP6"
            guard fields.count == 6 else { return .invalid(reason: "v1 \(fields[1]) header needs two addresses and two ports") }
            guard let sourcePort = port(fields[4]), let destinationPort = port(fields[5]) else {
                return .invalid(reason: "v1 header has a bad port")
            }
            guard let source = address(String(fields[2]), port: sourcePort, v6: v6),
                let destination = address(String(fields[3]), port: destinationPort, v6: v6)
            else { return .invalid(reason: "v1 header has an address that is not \(v6 ? "IPv6" : "IPv4")") }
            return .header(source: source, destination: destination, length: length)
        default:
            return .invalid(reason: "v1 header has an unknown protocol")
        }
    }

    static func parseV2(_ bytes: ByteBufferView) -> Result {
        guard bytes.count >= 16 else { return .needMore }
        let start = bytes.startIndex
        let versionCommand = bytes[start + 12]
        let family = bytes[start + 13]
        let payload = Int(bytes[start + 14]) << 8 | Int(bytes[start + 15])
        guard versionCommand >> 4 == 2 else { return .invalid(reason: "v2 header of unknown version \(versionCommand >> 4)") }
        guard payload <= maxV2Payload else { return .invalid(reason: "v2 header longer than \(maxV2Length) bytes") }
        let length = 16 + payload
        guard bytes.count >= length else { return .needMore }
        switch versionCommand & 0x0F {
        case 0:  // LOCAL: the balancer speaking for itself
            return .header(source: nil, destination: nil, length: length)
        case 1:  // PROXY
            break
        default:
            return .invalid(reason: "v2 header with unknown command \(versionCommand & 0x0F)")
        }
        guard family & 0x0F <= 2 else { return .invalid(reason: "v2 header with unknown transport \(family & 0x0F)") }
        let body = bytes[(start + 16)..<(start + length)]
        let b = body.startIndex
        switch family >> 4 {
        case 0:  // UNSPEC
            return .header(source: nil, destination: nil, length: length)
        case 1:  // INET
            guard payload >= 12 else { return .invalid(reason: "v2 IPv4 header too short") }
            let source = v4(body[b..<b + 4], port: body[b + 8..<b + 10])
            let destination = v4(body[b + 4..<b + 8], port: body[b + 10..<b + 12])
            return .header(source: source, destination: destination, length: length)
        case 2:  // INET6
            guard payload >= 36 else { return .invalid(reason: "v2 IPv6 header too short") }
            let source = v6(body[b..<b + 16], port: body[b + 32..<b + 34])
            let destination = v6(body[b + 16..<b + 32], port: body[b + 34..<b + 36])
            return .header(source: source, destination: destination, length: length)
        case 3:  // UNIX: no IP to act on
            guard payload >= 216 else { return .invalid(reason: "v2 Unix header too short") }
            return .header(source: nil, destination: nil, length: length)
        default:
            return .invalid(reason: "v2 header with unknown address family \(family >> 4)")
        }
    }

    /// A decimal port, 0...65535, digits only.
    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), n <= 65535 else {
            return nil
        }
        return n
    }

    private static func address(_ text: String, port: Int, v6: Bool) -> SocketAddress? {
        guard let address = try? SocketAddress(ipAddress: text, port: port) else { return nil }
        switch address {
        case .v4: return v6 ? nil : address
        case .v6: return v6 ? address : nil
        case .unixDomainSocket: return nil
        }
    }

    private static func portValue(_ bytes: ByteBufferView.SubSequence) -> Int {
        Int(bytes[bytes.startIndex]) << 8 | Int(bytes[bytes.startIndex + 1])
    }

    private static func v4(_ bytes: ByteBufferView.SubSequence, port: ByteBufferView.SubSequence) -> SocketAddress? {
        try? SocketAddress(ipAddress: bytes.map(String.init).joined(separator: "."), port: portValue(port))
    }

    private static func v6(_ bytes: ByteBufferView.SubSequence, port: ByteBufferView.SubSequence) -> SocketAddress? {
        let b = Array(bytes)
        let words = stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
        return try? SocketAddress(ipAddress: words.joined(separator: ":"), port: portValue(port))
    }
}
