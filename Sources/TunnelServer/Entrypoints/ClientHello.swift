import NIOCore

/// Reads the server name (SNI) and the offered ALPN IDs from a TLS ClientHello without consuming
/// or decrypting anything, so the relay can decide before any handshake whether a connection is
/// an agent's, an ACME validation, one to terminate with a certificate, or one to pass through.
enum ClientHello {
    /// What the relay routes a ClientHello by.
    struct Info: Equatable, Sendable {
        var serverName: String?
        /// ALPN protocol IDs, in the client's order.
        var alpn: [String] = []
    }

    /// Result of peeking at the buffered bytes.
    enum Peek: Equatable, Sendable {
        case needMore
        /// A ClientHello (a malformed one reads as one with neither SNI nor ALPN).
        case hello(Info)
        case notTLS

        static let noServerName = Peek.hello(Info())
        static func serverName(_ name: String) -> Peek { .hello(Info(serverName: name)) }

        /// The SNI, when the hello has one.
        var serverName: String? {
            if case .hello(let info) = self { return info.serverName }
            return nil
        }
    }

    /// The largest ClientHello we wait for (one TLS record).
    static let maxRecord = 16 * 1024 + 5

    static func peek(_ buffer: ByteBuffer) -> Peek {
        var b = buffer
        guard let contentType = b.readInteger(as: UInt8.self) else { return .needMore }
        guard contentType == 0x16 else { return .notTLS }
        guard let _ = b.readInteger(as: UInt16.self), let length = b.readInteger(as: UInt16.self) else { return .needMore }
        guard var record = b.readSlice(length: Int(length)) else { return .needMore }
        guard record.readInteger(as: UInt8.self) == 0x01,  // client_hello
            let l1 = record.readInteger(as: UInt8.self), let l2 = record.readInteger(as: UInt16.self)
        else { return .notTLS }
        _ = (l1, l2)
        // version(2) random(32)
        guard record.readSlice(length: 34) != nil,
            let sessionLen = record.readInteger(as: UInt8.self), record.readSlice(length: Int(sessionLen)) != nil,
            let suitesLen = record.readInteger(as: UInt16.self), record.readSlice(length: Int(suitesLen)) != nil,
            let compLen = record.readInteger(as: UInt8.self), record.readSlice(length: Int(compLen)) != nil
        else { return .noServerName }
        guard let extLen = record.readInteger(as: UInt16.self), var exts = record.readSlice(length: Int(extLen)) else { return .noServerName }
        var info = Info()
        while let type = exts.readInteger(as: UInt16.self), let len = exts.readInteger(as: UInt16.self), var ext = exts.readSlice(length: Int(len)) {
            switch type {
            case 0:  // server_name
                guard let _ = ext.readInteger(as: UInt16.self) else { continue }
                while let nameType = ext.readInteger(as: UInt8.self), let nameLen = ext.readInteger(as: UInt16.self), let name = ext.readString(length: Int(nameLen)) {
                    if nameType == 0 {
                        info.serverName = name
                        break
                    }
                }
            case 16:  // application_layer_protocol_negotiation
                guard let listLen = ext.readInteger(as: UInt16.self), var list = ext.readSlice(length: Int(listLen)) else { continue }
                while let idLen = list.readInteger(as: UInt8.self), let id = list.readString(length: Int(idLen)) {
                    info.alpn.append(id)
                }
            default:
                continue
            }
        }
        return .hello(info)
    }

    /// A fatal `unrecognized_name` alert (TLS 1.2 record framing is accepted by every version).
    static let unrecognizedNameAlert: [UInt8] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70]
    /// A fatal `access_denied` alert: the visitor policy refused the connection (passthrough).
    static let accessDeniedAlert: [UInt8] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x31]
}
