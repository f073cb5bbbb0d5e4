#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Where HTTP/1.x messages begin and end in a byte stream, without decoding them.
///
/// The relay's HTTP entrypoint routes every request of a keep-alive connection by its own `Host`,
/// so it must know where each request (and each response, to keep answers in order when a
/// connection moves to another tunnel) ends; the agent's request inspector follows the requests
/// of a stream the same way (in Shared because both binaries use it). Bodies are not decoded:
/// their bytes, chunk framing included, pass through untouched; only heads and chunk-size lines
/// are read.
public enum HTTPFraming {
    /// The longest head accepted (request line or status line plus headers).
    public static let maxHead = 64 * 1024
    /// The longest chunk-size line or trailer section accepted.
    package static let maxChunkLine = 4 * 1024

    /// Why a message cannot be framed. The connection it came on cannot be trusted any further.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public enum Kind: Sendable, Equatable { case headTooLarge, malformed }
        public var kind: Kind
        public var reason: String
        public var description: String { reason }

        package static func malformed(_ reason: String) -> Error { Error(kind: .malformed, reason: reason) }
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
        /// The head's bytes, to copy from when it is rewritten.
        package var bytes = ByteBuffer()
        /// Each line's range in `bytes` (without its CRLF), start line first.
        package var lineRanges: [Range<Int>] = []
        /// Indices (into `lineRanges`) of the `X-Forwarded-For` / `X-Forwarded-Proto` lines.
        package var forwardedFor: [Int] = []
        package var forwardedProto: [Int] = []
        /// Indices of `X-Forwarded-Host` lines (the relay sets its own).
        package var forwardedHost: [Int] = []
        /// Request: where the request-target lies in `bytes`.
        package var targetRange: Range<Int> = 0..<0

        /// Request: the request-target as sent (`/api/x?y`, or absolute-form).
        package var target: String {
            bytes.getString(at: bytes.readerIndex + targetRange.lowerBound, length: targetRange.count) ?? ""
        }

        /// Request: the target's path (an absolute-form target's too), without the query. Read
        /// from the bytes (asked for every request: the routes by path).
        package var path: String {
            bytes.withUnsafeReadableBytes { raw in
                var a = targetRange.lowerBound
                let b = targetRange.upperBound
                if a < b, raw[a] != UInt8(ascii: "/") {
                    // Absolute form (`http://host/p`): the path starts at the third slash.
                    var slashes = 0
                    while a < b {
                        if raw[a] == UInt8(ascii: "/") {
                            slashes += 1
                            if slashes == 3 { break }
                        }
                        a += 1
                    }
                }
                var end = a
                while end < b, raw[end] != UInt8(ascii: "?"), raw[end] != UInt8(ascii: "#") { end += 1 }
                return end > a ? String(decoding: UnsafeRawBufferPointer(rebasing: raw[a..<end]), as: UTF8.self) : "/"
            }
        }

        /// The value of the first field named `name` (lowercased), or nil.
        package func field(_ name: String) -> String? {
            for index in lineRanges.indices.dropFirst() where nameOfLine(index, is: name) {
                return value(ofLine: index)
            }
            return nil
        }

        /// Whether line `index`'s field name is `name` (lowercased), in any case.
        package func nameOfLine(_ index: Int, is name: String) -> Bool {
            let r = lineRanges[index]
            let n = name.utf8.count
            guard r.count > n else { return false }
            return bytes.withUnsafeReadableBytes { raw in
                guard raw[r.lowerBound + n] == UInt8(ascii: ":") else { return false }
                var k = r.lowerBound
                for c in name.utf8 {
                    var b = raw[k]
                    if b >= 0x41 && b <= 0x5A { b |= 0x20 }
                    if b != c { return false }
                    k += 1
                }
                return true
            }
        }

        /// Whether line `index`'s field name is one of `names` (lowercased), without allocating.
        package func nameOfLine(_ index: Int, isAnyOf names: Set<String>) -> Bool {
            names.contains { nameOfLine(index, is: $0) }
        }

        /// The value of line `index` (after the colon, spaces trimmed), as text.
        package func value(ofLine index: Int) -> String {
            let r = lineRanges[index]
            return bytes.withUnsafeReadableBytes { raw in
                var a = r.lowerBound
                while a < r.upperBound && raw[a] != UInt8(ascii: ":") { a += 1 }
                return HTTPFraming.trimmedText(raw, a + 1, r.upperBound)
            }
        }

        /// Every header line as name and value (the start line left out), for the inspectors
        /// (the relay's ingress, the agent's stream tap).
        package var headerFields: [(name: String, value: String)] {
            lineRanges.indices.dropFirst().map { index in
                let r = lineRanges[index]
                let name = bytes.withUnsafeReadableBytes { raw -> String in
                    var a = r.lowerBound
                    while a < r.upperBound && raw[a] != UInt8(ascii: ":") { a += 1 }
                    return String(decoding: UnsafeRawBufferPointer(rebasing: raw[r.lowerBound..<a]), as: UTF8.self)
                }
                return (name: name, value: value(ofLine: index))
            }
        }

        /// Line `index` as raw bytes (no CRLF).
        package func line(_ index: Int) -> ByteBuffer {
            let r = lineRanges[index]
            return bytes.getSlice(at: bytes.readerIndex + r.lowerBound, length: r.count)!
        }
    }

    /// The offset just past the CRLF CRLF that ends a head, or nil.
    package static func headEnd(_ raw: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = raw.count
        guard n >= 4, let base = raw.baseAddress else { return nil }
        while i < n {
            guard let p = memchr(base + i, 10, n - i) else { return nil }
            let j = base.distance(to: UnsafeRawPointer(p))
            if j >= 3 && raw[j - 1] == 13 && raw[j - 2] == 10 && raw[j - 3] == 13 { return j + 1 }
            i = j + 1
        }
        return nil
    }

    package static func trimmedText(_ raw: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String {
        var a = from
        var b = to
        while a < b && (raw[a] == 32 || raw[a] == 9) { a += 1 }
        while b > a && (raw[b - 1] == 32 || raw[b - 1] == 9) { b -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[a..<b]), as: UTF8.self)
    }

    /// Whether `raw[from..<to]` equals `name` (lowercase ASCII), ignoring case.
    package static func nameIs(_ raw: UnsafeRawBufferPointer, _ from: Int, _ to: Int, _ name: StaticString) -> Bool {
        guard to - from == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        for k in 0..<(to - from) {
            var c = raw[from + k]
            if c >= 65 && c <= 90 { c += 32 }
            if c != p[k] { return false }
        }
        return true
    }

    /// RFC 9110 tchar.
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        // ! # $ % & ' * + - . ^ _ ` | ~
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E:
            return true
        default:
            return false
        }
    }

    /// Calls `body` with the bounds of each comma-separated token of `raw[from..<to]`, spaces and
    /// tabs around it trimmed, empty ones skipped.
    @inline(__always)
    package static func forEachToken(_ raw: UnsafeRawBufferPointer, _ from: Int, _ to: Int, _ body: (Int, Int) -> Void) {
        var a = from
        while a < to {
            var b = a
            while b < to && raw[b] != UInt8(ascii: ",") { b += 1 }
            var x = a
            var y = b
            while x < y && (raw[x] == 32 || raw[x] == 9) { x += 1 }
            while y > x && (raw[y - 1] == 32 || raw[y - 1] == 9) { y -= 1 }
            if x < y { body(x, y) }
            a = b + 1
        }
    }

    /// A decimal `Content-Length` value (spaces around it allowed), or nil.
    package static func decimal(_ raw: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int? {
        var a = from
        var b = to
        while a < b && (raw[a] == 32 || raw[a] == 9) { a += 1 }
        while b > a && (raw[b - 1] == 32 || raw[b - 1] == 9) { b -= 1 }
        guard a < b, b - a <= 18 else { return nil }
        var n = 0
        for i in a..<b {
            let d = raw[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            n = n * 10 + Int(d)
        }
        return n
    }

    /// Whether `raw[from..<to]` begins with `prefix` (lowercase ASCII), ignoring case.
    package static func hasPrefix(_ raw: UnsafeRawBufferPointer, _ from: Int, _ to: Int, _ prefix: StaticString) -> Bool {
        to - from >= prefix.utf8CodeUnitCount && nameIs(raw, from, from + prefix.utf8CodeUnitCount, prefix)
    }

    /// Parses the head at the reader index of `buffer` if it is complete; nil while incomplete.
    /// Nothing is consumed. Works on the bytes (no strings but the few values kept), since it runs
    /// for every request and every response: a profile of the relay under keep-alive load showed
    /// string splitting and lowercasing here as its largest user-space cost.
    public static func parseHead(_ buffer: ByteBuffer, isRequest: Bool) throws -> Head? {
        try buffer.withUnsafeReadableBytes { raw -> Head? in
            if isRequest {
                // A method is a short token followed by a space: anything else is refused at once,
                // not after waiting for a head that will never come.
                var n = 0
                while n < raw.count {
                    let byte = raw[n]
                    if byte == 32 && n > 0 { break }
                    guard n < 24, isTokenByte(byte) else { throw Error.malformed("not an HTTP request") }
                    n += 1
                }
            }
            guard let length = headEnd(raw) else {
                if raw.count > maxHead { throw Error(kind: .headTooLarge, reason: "head larger than \(maxHead) bytes") }
                return nil
            }
            guard length <= maxHead else { throw Error(kind: .headTooLarge, reason: "head larger than \(maxHead) bytes") }
            var head = Head()
            head.length = length
            head.bytes = buffer.getSlice(at: buffer.readerIndex, length: length)!
            head.lineRanges.reserveCapacity(16)
            // Lines, without their CRLF; the last (empty) one ends the head.
            var start = 0
            while start < length - 2 {
                let p = memchr(raw.baseAddress! + start, 10, length - start)!
                let lf = raw.baseAddress!.distance(to: UnsafeRawPointer(p))
                // Strict, as a proxy must be (RFC 9112 §2.2, §5.2): CRLF line ends, no bare CR,
                // no obsolete line folding. Leniency here is where request smuggling lives.
                guard lf > start, raw[lf - 1] == 13 else { throw Error.malformed("line without CRLF") }
                let end = lf - 1
                if memchr(raw.baseAddress! + start, 13, end - start) != nil { throw Error.malformed("bare CR in a line") }
                if !head.lineRanges.isEmpty, raw[start] == 32 || raw[start] == 9 { throw Error.malformed("obsolete line folding") }
                head.lineRanges.append(start..<end)
                start = lf + 1
            }
            guard let first = head.lineRanges.first, !first.isEmpty else { throw Error.malformed("empty start line") }
            // The start line's space-separated parts: up to two splits, the rest is the third.
            var parts: [Range<Int>] = []
            var i = first.lowerBound
            while i < first.upperBound {
                while i < first.upperBound && raw[i] == 32 { i += 1 }
                guard i < first.upperBound else { break }
                if parts.count == 2 {
                    parts.append(i..<first.upperBound)
                    break
                }
                let a = i
                while i < first.upperBound && raw[i] != 32 { i += 1 }
                parts.append(a..<i)
            }
            // Exactly HTTP/1.0 or HTTP/1.1: `HTTP/1.1x` or `HTTP/1.2` is another protocol to a
            // stricter parser downstream, and disagreement between parsers is how smuggling starts.
            func isVersion(_ r: Range<Int>) -> Bool {
                guard r.count == 8 else { return false }
                let prefix: StaticString = "HTTP/1."
                for k in 0..<7 where raw[r.lowerBound + k] != prefix.utf8Start[k] { return false }
                return raw[r.lowerBound + 7] == UInt8(ascii: "0") || raw[r.lowerBound + 7] == UInt8(ascii: "1")
            }
            func isHTTP10(_ r: Range<Int>) -> Bool { r.count == 8 && isVersion(r) && raw[r.lowerBound + 7] == UInt8(ascii: "0") }
            if isRequest {
                guard parts.count == 3, isVersion(parts[2]) else { throw Error.malformed("bad request line") }
                head.method = String(decoding: UnsafeRawBufferPointer(rebasing: raw[parts[0]]), as: UTF8.self)
                head.targetRange = parts[1]
                head.http10 = isHTTP10(parts[2])
                if head.method == "CONNECT" { head.upgrade = true }
            } else {
                guard parts.count >= 2, isVersion(parts[0]), parts[1].count == 3, let status = decimal(raw, parts[1].lowerBound, parts[1].upperBound),
                    status >= 100
                else {
                    throw Error.malformed("bad status line")
                }
                head.status = status
                head.http10 = isHTTP10(parts[0])
            }
            var hasUpgradeHeader = false
            var hosts = 0
            var transferEncoding = false
            var connectionUpgrade = false
            var keepAlive = false
            for index in head.lineRanges.indices.dropFirst() {
                let r = head.lineRanges[index]
                let a = r.lowerBound
                guard let c = memchr(raw.baseAddress! + a, Int32(UInt8(ascii: ":")), r.count) else {
                    throw Error.malformed("header line without a colon")
                }
                let colon = raw.baseAddress!.distance(to: UnsafeRawPointer(c))
                guard colon > a else { throw Error.malformed("bad header name") }
                for k in a..<colon where !isTokenByte(raw[k]) { throw Error.malformed("bad header name") }
                // Field values are visible characters, spaces and tabs (RFC 9110 §5.5): a NUL or
                // another control byte is cut short or read differently by some origins.
                for k in (colon + 1)..<r.upperBound {
                    let byte = raw[k]
                    if (byte < 0x20 && byte != 0x09) || byte == 0x7F { throw Error.malformed("control character in a header value") }
                }
                switch colon - a {
                case 4 where nameIs(raw, a, colon, "host"):
                    hosts += 1
                    head.host = trimmedText(raw, colon + 1, r.upperBound)
                case 14 where nameIs(raw, a, colon, "content-length"):
                    guard let n = decimal(raw, colon + 1, r.upperBound) else {
                        throw Error.malformed("bad Content-Length \"\(trimmedText(raw, colon + 1, r.upperBound))\"")
                    }
                    if let old = head.contentLength, old != n { throw Error.malformed("conflicting Content-Length") }
                    head.contentLength = n
                case 17 where nameIs(raw, a, colon, "transfer-encoding"):
                    transferEncoding = true
                    var last: (Int, Int)?
                    forEachToken(raw, colon + 1, r.upperBound) { x, y in last = (x, y) }
                    head.chunked = last.map { nameIs(raw, $0.0, $0.1, "chunked") } ?? false
                    if !head.chunked && isRequest { throw Error.malformed("request Transfer-Encoding without chunked last") }
                case 10 where nameIs(raw, a, colon, "connection"):
                    forEachToken(raw, colon + 1, r.upperBound) { x, y in
                        if nameIs(raw, x, y, "close") { head.connectionClose = true }
                        if nameIs(raw, x, y, "upgrade") { connectionUpgrade = true }
                        if nameIs(raw, x, y, "keep-alive") { keepAlive = true }
                    }
                case 7 where nameIs(raw, a, colon, "upgrade"):
                    hasUpgradeHeader = true
                case 15 where nameIs(raw, a, colon, "x-forwarded-for"):
                    head.forwardedFor.append(index)
                case 17 where nameIs(raw, a, colon, "x-forwarded-proto"):
                    head.forwardedProto.append(index)
                case 16 where nameIs(raw, a, colon, "x-forwarded-host"):
                    head.forwardedHost.append(index)
                default:
                    break
                }
            }
            // Both framings at once, or two Hosts, mean two parsers may disagree: refused.
            if transferEncoding && head.contentLength != nil { throw Error.malformed("both Content-Length and Transfer-Encoding") }
            if isRequest {
                if hosts > 1 { throw Error.malformed("more than one Host") }
                // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; an HTTP/1.0
                // origin would read the body as the next request.
                if transferEncoding && head.http10 { throw Error.malformed("Transfer-Encoding in an HTTP/1.0 request") }
                // An absolute-form target names the host the origin will use: it must be the one
                // routed on.
                let t = parts[1]
                if hasPrefix(raw, t.lowerBound, t.upperBound, "http://") || hasPrefix(raw, t.lowerBound, t.upperBound, "https://") {
                    let target = String(decoding: UnsafeRawBufferPointer(rebasing: raw[t]), as: UTF8.self).lowercased()
                    let authority = target.drop(while: { $0 != "/" }).dropFirst(2).prefix(while: { $0 != "/" && $0 != "?" })
                    guard let host = head.host, host.lowercased() == authority else {
                        throw Error.malformed("request target's host differs from Host")
                    }
                }
            }
            if hasUpgradeHeader && connectionUpgrade { head.upgrade = true }
            if head.http10 && !keepAlive { head.connectionClose = true }
            return head
        }
    }

    /// How a body is delimited, and how far through it a stream is.
    public enum Body: Sendable, Equatable {
        case none
        case length(Int)
        case chunkSize
        case chunkData(Int)
        case chunkEnd(Int)
        case trailers(total: Int)
        /// Until the connection closes (a response with no length).
        case untilClose
        /// No longer HTTP (after an upgrade).
        case raw

        /// Consumes body bytes from `view` starting at `start`; returns how many belong to this
        /// body and whether the body is complete.
        package mutating func advance(_ view: ByteBufferView, from start: Int) throws -> (count: Int, done: Bool) {
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
                    guard lf > lineStart, view[lf - 1] == 13 else { throw Error.malformed("chunk-size line without CRLF") }
                    var size = 0
                    var digits = 0
                    var k = lineStart
                    while k < lf - 1, let d = Self.hexValue(view[k]) {
                        size = size * 16 + d
                        digits += 1
                        if digits > 12 { throw Error.malformed("chunk size too large") }
                        k += 1
                    }
                    guard digits > 0 else { throw Error.malformed("empty chunk size") }
                    // What may follow the size: optional whitespace, then an extension or the end.
                    while k < lf - 1, view[k] == 32 || view[k] == 9 { k += 1 }
                    if k < lf - 1 {
                        guard view[k] == UInt8(ascii: ";") else { throw Error.malformed("bad chunk size") }
                        for j in (k + 1)..<(lf - 1) where view[j] == 13 || view[j] < 9 || view[j] == 127 {
                            throw Error.malformed("bad chunk extension")
                        }
                    }
                    self = size == 0 ? .trailers(total: 0) : .chunkData(size)
                case .chunkData(let n):
                    let take = min(n, end - i)
                    i += take
                    if take < n {
                        self = .chunkData(n - take)
                        return (i - start, false)
                    }
                    self = .chunkEnd(2)
                case .chunkEnd(let n):
                    // The CRLF after a chunk's data, checked byte by byte (it may arrive split).
                    var left = n
                    while left > 0 && i < end {
                        guard view[i] == (left == 2 ? 13 : 10) else { throw Error.malformed("chunk data not followed by CRLF") }
                        i += 1
                        left -= 1
                    }
                    if left > 0 {
                        self = .chunkEnd(left)
                        return (i - start, false)
                    }
                    self = .chunkSize
                case .trailers(let total):
                    // Trailer lines are read whole, like size lines: a partial one waits.
                    guard let lf = view[i..<end].firstIndex(of: 10) else {
                        if end - i > HTTPFraming.maxChunkLine { throw Error.malformed("trailer line too long") }
                        return (i - start, false)
                    }
                    let lineStart = i
                    i = lf + 1
                    guard lf > lineStart, view[lf - 1] == 13 else { throw Error.malformed("trailer line without CRLF") }
                    if lf - 1 == lineStart {
                        // The empty line: the message is complete.
                        self = .none
                        return (i - start, true)
                    }
                    guard view[lineStart..<(lf - 1)].contains(UInt8(ascii: ":")), view[lineStart] != 32, view[lineStart] != 9 else {
                        throw Error.malformed("bad trailer line")
                    }
                    if total + (i - lineStart) > HTTPFraming.maxHead { throw Error.malformed("trailers too long") }
                    self = .trailers(total: total + (i - lineStart))
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

    /// The body that follows a request head (an upgrade's too: the connection turns raw only once
    /// the origin agrees, with 101 or a 2xx to CONNECT).
    package static func requestBody(_ head: Head) -> Body {
        if head.chunked { return .chunkSize }
        if let n = head.contentLength, n > 0 { return .length(n) }
        return .none
    }

    /// The body that follows a response head to a request with `method`.
    package static func responseBody(_ head: Head, method: String) -> Body {
        if head.status == 101 || (method == "CONNECT" && (200..<300).contains(head.status)) { return .raw }
        if method == "HEAD" || (100..<200).contains(head.status) || head.status == 204 || head.status == 304 { return .none }
        if head.chunked { return .chunkSize }
        if let n = head.contentLength { return n > 0 ? .length(n) : .none }
        return .untilClose
    }
}
