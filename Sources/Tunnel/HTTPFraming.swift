import NIOCore

/// Where HTTP/1.x messages begin and end in a byte stream, without decoding them.
///
/// The HTTP entrypoint routes every request of a keep-alive connection by its own `Host`, so it
/// must know where each request (and each response, to keep answers in order when a connection
/// moves to another tunnel) ends. Bodies are not decoded: their bytes, chunk framing included,
/// pass through untouched; only heads and chunk-size lines are read.
public enum HTTPFraming {
    /// The longest head accepted (request line or status line plus headers).
    public static let maxHead = 64 * 1024
    /// The longest chunk-size line or trailer section accepted.
    static let maxChunkLine = 4 * 1024

    /// Why a message cannot be framed. The connection it came on cannot be trusted any further.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public enum Kind: Sendable, Equatable { case headTooLarge, malformed }
        public var kind: Kind
        public var reason: String
        public var description: String { reason }

        static func malformed(_ reason: String) -> Error { Error(kind: .malformed, reason: reason) }
    }

    /// What a head says about its message's framing (RFC 9112 §6).
    public struct Head: Sendable, Equatable {
        /// Request: the method; response: empty.
        public var method: String = ""
        /// Response: the status code; request: 0.
        public var status: Int = 0
        public var host: String?
        public var contentLength: Int?
        public var chunked = false
        /// `Connection: upgrade` with an `Upgrade` header, or CONNECT: after this the bytes are no
        /// longer HTTP messages.
        public var upgrade = false
        public var connectionClose = false
        public var http10 = false
        /// Bytes of the head, final CRLF CRLF included.
        public var length = 0
        /// The head's bytes without the final CRLF (so headers can be appended).
        public var lines: [Substring] = []
    }

    /// Parses the head at the reader index of `buffer` if it is complete; nil while incomplete.
    /// Nothing is consumed.
    public static func parseHead(_ buffer: ByteBuffer, isRequest: Bool) throws -> Head? {
        let view = buffer.readableBytesView
        if isRequest {
            // A method is a short token followed by a space: anything else is refused at once,
            // not after waiting for a head that will never come.
            var n = 0
            for byte in view {
                if byte == UInt8(ascii: " ") && n > 0 { break }
                guard n < 24, byte > 32, byte < 127, !"()<>@,;:\\\"/[]?={}".utf8.contains(byte) else {
                    throw Error.malformed("not an HTTP request")
                }
                n += 1
            }
        }
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if view.count > maxHead { throw Error(kind: .headTooLarge, reason: "head larger than \(maxHead) bytes") }
            return nil
        }
        let length = end.upperBound - view.startIndex
        guard length <= maxHead else { throw Error(kind: .headTooLarge, reason: "head larger than \(maxHead) bytes") }
        let text = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        var head = Head()
        head.length = length
        head.lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let first = head.lines.first, !first.isEmpty else { throw Error.malformed("empty start line") }
        let parts = first.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        if isRequest {
            guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { throw Error.malformed("bad request line") }
            head.method = String(parts[0])
            head.http10 = parts[2] == "HTTP/1.0"
            if head.method == "CONNECT" { head.upgrade = true }
        } else {
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status) else {
                throw Error.malformed("bad status line")
            }
            head.status = status
            head.http10 = parts[0] == "HTTP/1.0"
        }
        var hasUpgradeHeader = false
        var connectionUpgrade = false
        for line in head.lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Error.malformed("header line without a colon") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "host":
                head.host = value
            case "content-length":
                guard let n = Int(value), n >= 0 else { throw Error.malformed("bad Content-Length \"\(value)\"") }
                if let old = head.contentLength, old != n { throw Error.malformed("conflicting Content-Length") }
                head.contentLength = n
            case "transfer-encoding":
                let codings = value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                head.chunked = codings.last == "chunked"
                if !head.chunked && isRequest { throw Error.malformed("request Transfer-Encoding without chunked last") }
            case "connection":
                for token in value.lowercased().split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    if token == "close" { head.connectionClose = true }
                    if token == "upgrade" { connectionUpgrade = true }
                }
            case "upgrade":
                hasUpgradeHeader = true
            default:
                break
            }
        }
        if head.chunked { head.contentLength = nil }
        if hasUpgradeHeader && connectionUpgrade { head.upgrade = true }
        if head.http10 && !head.lines.contains(where: { $0.lowercased().hasPrefix("connection:") && $0.lowercased().contains("keep-alive") }) {
            head.connectionClose = true
        }
        return head
    }

    /// How a body is delimited, and how far through it a stream is.
    public enum Body: Sendable, Equatable {
        case none
        case length(Int)
        case chunkSize
        case chunkData(Int)
        case chunkEnd(Int)
        case trailers(line: Int, total: Int)
        /// Until the connection closes (a response with no length).
        case untilClose
        /// No longer HTTP (after an upgrade).
        case raw

        /// Consumes body bytes from `view` starting at `start`; returns how many belong to this
        /// body and whether the body is complete.
        mutating func advance(_ view: ByteBufferView, from start: Int) throws -> (count: Int, done: Bool) {
            var i = start
            let end = view.endIndex
            while true {
                switch self {
                case .none:
                    return (i - start, true)
                case .untilClose, .raw:
                    return (end - start, false)
                case .length(let n):
                    let take = min(n, end - i)
                    i += take
                    if take == n {
                        self = .none
                        return (i - start, true)
                    }
                    self = .length(n - take)
                    return (i - start, false)
                case .chunkSize:
                    // The size line is read whole: a partial one stays unconsumed until the rest
                    // arrives (the caller keeps unconsumed bytes).
                    guard let lf = view[i..<end].firstIndex(of: 10) else {
                        if end - i > HTTPFraming.maxChunkLine { throw Error.malformed("chunk-size line too long") }
                        return (i - start, false)
                    }
                    let lineStart = i
                    i = lf + 1
                    var size = 0
                    var digits = 0
                    for byte in view[lineStart..<lf] {
                        guard let d = Self.hexValue(byte) else {
                            if byte == UInt8(ascii: ";") || byte == 13 || byte == UInt8(ascii: " ") || byte == 9 { break }
                            throw Error.malformed("bad chunk size")
                        }
                        size = size * 16 + d
                        digits += 1
                        if digits > 12 { throw Error.malformed("chunk size too large") }
                    }
                    guard digits > 0 else { throw Error.malformed("empty chunk size") }
                    self = size == 0 ? .trailers(line: 0, total: 0) : .chunkData(size)
                case .chunkData(let n):
                    let take = min(n, end - i)
                    i += take
                    if take < n {
                        self = .chunkData(n - take)
                        return (i - start, false)
                    }
                    self = .chunkEnd(2)
                case .chunkEnd(let n):
                    let take = min(n, end - i)
                    i += take
                    if take < n {
                        self = .chunkEnd(n - take)
                        return (i - start, false)
                    }
                    self = .chunkSize
                case .trailers(let line, let total):
                    guard let lf = view[i..<end].firstIndex(of: 10) else {
                        let seen = line + (end - i)
                        if total + seen > HTTPFraming.maxHead { throw Error.malformed("trailers too long") }
                        self = .trailers(line: seen, total: total)
                        return (end - start, false)
                    }
                    let length = line + (lf + 1 - i)
                    i = lf + 1
                    if length <= 2 {
                        // The empty line: the message is complete.
                        self = .none
                        return (i - start, true)
                    }
                    self = .trailers(line: 0, total: total + length)
                }
            }
        }

        private static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
    }

    /// The body that follows a request head.
    static func requestBody(_ head: Head) -> Body {
        if head.upgrade { return .raw }
        if head.chunked { return .chunkSize }
        if let n = head.contentLength, n > 0 { return .length(n) }
        return .none
    }

    /// The body that follows a response head to a request with `method`.
    static func responseBody(_ head: Head, method: String) -> Body {
        if head.status == 101 || (method == "CONNECT" && (200..<300).contains(head.status)) { return .raw }
        if method == "HEAD" || (100..<200).contains(head.status) || head.status == 204 || head.status == 304 { return .none }
        if head.chunked { return .chunkSize }
        if let n = head.contentLength { return n > 0 ? .length(n) : .none }
        return .untilClose
    }
}
