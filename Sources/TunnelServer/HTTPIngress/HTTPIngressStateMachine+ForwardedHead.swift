import NIOCore

extension HTTPIngressStateMachine {
    /// The request head as sent to the origin: the client's `X-Forwarded-For` extended with the
    /// client's address, `X-Forwarded-Proto` set by the relay (a client's own is dropped).
    static func forwardedHead(_ head: HTTPFraming.Head, clientIP: String?, proto: String = "http", allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: head.length + 80)
        var chain: [String] = []
        if head.forwardedFor.isEmpty && head.forwardedProto.isEmpty {
            // Every line is kept (the usual case): the head up to its final CRLF in one copy.
            var lines = head.bytes.getSlice(at: head.bytes.readerIndex, length: head.length - 2)!
            out.writeBuffer(&lines)
        } else {
            for index in head.lineRanges.indices {
                if head.forwardedFor.contains(index) {
                    chain.append(head.value(ofLine: index))
                    continue
                }
                if head.forwardedProto.contains(index) { continue }
                var line = head.line(index)
                out.writeBuffer(&line)
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
        out.writeStaticString("\r\n\r\n")
        return out
    }
}
