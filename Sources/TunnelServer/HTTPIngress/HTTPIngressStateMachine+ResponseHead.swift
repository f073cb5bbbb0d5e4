import NIOCore

extension HTTPIngressStateMachine {
    /// A header the relay adds to every final response of this connection unless the origin sent
    /// one of that name itself (HSTS on terminated TLS: the origin's own policy wins).
    struct AddedHeader: Equatable {
        var name: String
        var value: String
    }

    /// The response head as the client gets it: `head`'s bytes, plus `responseHeaders` the origin
    /// did not set. Interim (1xx) heads pass untouched.
    func clientHead(_ head: HTTPFraming.Head, bytes: ByteBuffer) -> ByteBuffer {
        guard !responseHeaders.isEmpty, head.status >= 200 else { return bytes }
        let missing = responseHeaders.filter { added in
            !head.lineRanges.indices.dropFirst().contains { index in
                var line = head.line(index)
                guard let text = line.readString(length: min(line.readableBytes, added.name.utf8.count + 1)) else { return false }
                return text.lowercased() == added.name.lowercased() + ":"
            }
        }
        guard !missing.isEmpty else { return bytes }
        var out = allocator.buffer(capacity: bytes.readableBytes + 64)
        var lines = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 2)!
        out.writeBuffer(&lines)
        for header in missing {
            out.writeString(header.name)
            out.writeStaticString(": ")
            out.writeString(header.value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }
}
