import NIOCore
import NIOHPACK
import NIOHTTP1

/// How an h2 message's headers become what the local service gets, and back: the forwarding
/// headers every request gets, the headers the relay adds to responses (HSTS), and the mapping
/// between an h2 header block and an HTTP/1.1 head for an `http1` upstream (`:authority` becomes
/// `Host`, the body's framing is spelled out, connection-specific fields never cross). Pure
/// functions, tested on their own (`HTTP2HeaderMappingTests`).
enum HTTP2HeaderMapping {
    /// Fields that describe one HTTP/1.1 connection, never an h2 message (RFC 9113 §8.2.2), and
    /// `te`, which HTTP/1.1 only allows with `Connection: TE`.
    static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]

    struct Error: Swift.Error, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// The host a request is for: `:authority`, else a `Host` field.
    static func authority(_ headers: HPACKHeaders) -> String? {
        let value = headers.first(name: ":authority") ?? headers.first(name: "host")
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The request as the local service gets it: the visitor's `X-Forwarded-For` extended with its
    /// address, `X-Forwarded-Proto` set by the relay (a visitor's own is dropped), as on HTTP/1.
    static func forwardedRequest(_ headers: HPACKHeaders, clientIP: String?, proto: String, rewrite: RequestRewrite = .none) -> HPACKHeaders {
        var chain: [String] = []
        var out = HPACKHeaders()
        let host = authority(headers)
        let removed = rewrite.request.removed
        for (name, value, indexing) in headers {
            switch name {
            case "x-forwarded-for": chain.append(value)
            case "x-forwarded-proto", "x-forwarded-host": continue
            case ":authority" where rewrite.host != nil: out.add(name: name, value: rewrite.host!, indexing: indexing)
            case "host" where rewrite.host != nil: out.add(name: name, value: rewrite.host!, indexing: indexing)
            default:
                if !removed.isEmpty, removed.contains(name) { continue }
                out.add(name: name, value: value, indexing: indexing)
            }
        }
        for field in rewrite.request.fields { out.add(name: field.name.lowercased(), value: field.value) }
        if let clientIP { chain.append(clientIP) }
        if !chain.isEmpty { out.add(name: "x-forwarded-for", value: chain.joined(separator: ", ")) }
        out.add(name: "x-forwarded-proto", value: proto)
        if let host { out.add(name: "x-forwarded-host", value: host) }
        out.add(name: "forwarded", value: HTTPIngressStateMachine.forwardedElement(clientIP: clientIP, host: host, proto: proto))
        return out
    }

    /// A final response head with `added` fields the origin did not set itself (HSTS); 1xx heads
    /// pass untouched.
    static func response(_ headers: HPACKHeaders, adding added: [HTTPIngressStateMachine.AddedHeader], edits: HeaderEdits = .none) -> HPACKHeaders {
        guard !added.isEmpty || !edits.isEmpty, let status = headers.first(name: ":status"), !status.hasPrefix("1") else { return headers }
        var out = headers
        if !edits.removed.isEmpty {
            out = HPACKHeaders()
            for (name, value, indexing) in headers where !edits.removed.contains(name) { out.add(name: name, value: value, indexing: indexing) }
        }
        for field in edits.fields { out.add(name: field.name.lowercased(), value: field.value) }
        for header in added where !out.contains(name: header.name.lowercased()) {
            out.add(name: header.name.lowercased(), value: header.value)
        }
        return out
    }

    // MARK: h2 ⇄ HTTP/1.1

    /// An h2 request head as an HTTP/1.1 request head. The body's framing is explicit: none when
    /// the HEADERS ended the stream (`Content-Length: 0` for methods that carry a body), the
    /// visitor's `Content-Length` when given, else chunked (which also carries trailers).
    static func http1Request(_ headers: HPACKHeaders, endStream: Bool) throws -> HTTPRequestHead {
        guard let method = headers.first(name: ":method"), let path = headers.first(name: ":path") else {
            throw Error(reason: "request without :method or :path")
        }
        var fields = HTTPHeaders()
        if let authority = authority(headers), !headers.contains(name: "host") { fields.add(name: "host", value: authority) }
        fields.add(contentsOf: http1Fields(headers))
        if !fields.contains(name: "content-length") {
            if !endStream {
                fields.add(name: "transfer-encoding", value: "chunked")
            } else if !["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"].contains(method) {
                fields.add(name: "content-length", value: "0")
            }
        }
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: fields)
    }

    /// An HTTP/1.1 response head as an h2 header block: `:status` first, names lowercased,
    /// connection-specific fields (and those `Connection` names) dropped.
    static func h2Response(_ head: HTTPResponseHead) -> HPACKHeaders {
        var out = HPACKHeaders([(":status", String(head.status.code))])
        out.add(contentsOf: h2Fields(head.headers))
        return out
    }

    /// HTTP/1.1 trailers (or any fields) as h2 fields.
    static func h2Fields(_ fields: HTTPHeaders) -> HPACKHeaders {
        var normalized = HPACKHeaders(httpHeaders: fields, normalizeHTTPHeaders: true)
        normalized.remove(name: "te")
        // NIO matches the names `Connection` lists case-sensitively; HTTP field names are not.
        for token in fields[canonicalForm: "connection"] { normalized.remove(name: token.lowercased()) }
        return normalized
    }

    /// h2 trailers as HTTP/1.1 trailer fields (pseudo-headers cannot be trailers).
    static func http1Fields(_ headers: HPACKHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        for (name, value, _) in headers where !name.hasPrefix(":") && !connectionSpecific.contains(name) {
            out.add(name: name, value: value)
        }
        return out
    }

    /// The relay's own answer (an error page) as an h2 head and body.
    static func page(_ code: Int, _ reason: String, _ message: String, extra: [(String, String)] = [], body page: String? = nil) -> (HPACKHeaders, ByteBuffer) {
        let body = page ?? "<!doctype html><title>\(code) \(reason)</title><h1>\(code) \(reason)</h1><p>\(message)</p>\n"
        var headers = HPACKHeaders([(":status", String(code)), ("content-type", "text/html; charset=utf-8"), ("content-length", String(body.utf8.count))])
        for (name, value) in extra { headers.add(name: name, value: value) }
        return (headers, ByteBuffer(string: body))
    }
}
