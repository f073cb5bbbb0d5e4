import NIOCore
import Shared

extension HTTPIngressStateMachine {
    /// The request head as sent to the origin: the client's `X-Forwarded-For` extended with the
    /// client's address; `X-Forwarded-Proto` and `X-Forwarded-Host` set by the relay (a client's
    /// own are dropped); an RFC 7239 `Forwarded` element for this hop after any the client sent;
    /// and the rule's `rewrite` (its `Host`, its header edits, the checked credentials removed).
    static func forwardedHead(
        _ head: HTTPFraming.Head, clientIP: String?, proto: String = "http", rewrite: RequestRewrite = .none, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var out = allocator.buffer(capacity: head.length + 160)
        var chain: [String] = []
        if head.forwardedFor.isEmpty && head.forwardedProto.isEmpty && head.forwardedHost.isEmpty && rewrite.request.isEmpty && rewrite.host == nil {
            // Every line is kept (the usual case): the head up to its final CRLF in one copy.
            var lines = head.bytes.getSlice(at: head.bytes.readerIndex, length: head.length - 2)!
            out.writeBuffer(&lines)
        } else {
            let removes = !rewrite.request.removed.isEmpty
            for index in head.lineRanges.indices {
                if head.forwardedFor.contains(index) {
                    chain.append(head.value(ofLine: index))
                    continue
                }
                if head.forwardedProto.contains(index) || head.forwardedHost.contains(index) { continue }
                if index > 0 {
                    if let host = rewrite.host, head.nameOfLine(index, is: "host") {
                        out.writeStaticString("Host: ")
                        out.writeString(host)
                        out.writeStaticString("\r\n")
                        continue
                    }
                    if removes, head.nameOfLine(index, isAnyOf: rewrite.request.removed) { continue }
                }
                var line = head.line(index)
                out.writeBuffer(&line)
                out.writeStaticString("\r\n")
            }
            for field in rewrite.request.fields {
                out.writeString(field.name)
                out.writeStaticString(": ")
                out.writeString(field.value)
                out.writeStaticString("\r\n")
            }
        }
        if let clientIP { chain.append(clientIP) }
        if !chain.isEmpty {
            out.writeStaticString("X-Forwarded-For: ")
            for (k, hop) in chain.enumerated() {
                if k > 0 { out.writeStaticString(", ") }
                out.writeString(hop)
            }
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("X-Forwarded-Proto: ")
        out.writeString(proto)
        if let host = head.host {
            out.writeStaticString("\r\nX-Forwarded-Host: ")
            out.writeString(host)
        }
        out.writeStaticString("\r\nForwarded: ")
        out.writeString(forwardedElement(clientIP: clientIP, host: head.host, proto: proto))
        out.writeStaticString("\r\n\r\n")
        return out
    }

    /// This hop's RFC 7239 element: `for=192.0.2.7;host="app.example.com";proto=https` (an IPv6
    /// address quoted in brackets, the host always quoted since it may carry a port).
    static func forwardedElement(clientIP: String?, host: String?, proto: String) -> String {
        var parts: [String] = []
        if let ip = clientIP { parts.append(ip.contains(":") ? "for=\"[\(ip)]\"" : "for=\(ip)") }
        if let host, !host.contains("\""), !host.contains("\\") { parts.append("host=\"\(host)\"") }
        parts.append("proto=\(proto)")
        return parts.joined(separator: ";")
    }
}
