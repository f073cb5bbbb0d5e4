import NIOCore
import Shared

extension HTTPIngressStateMachine {
    /// A header the relay adds to every final response of this connection unless the origin sent
    /// one of that name itself (HSTS on terminated TLS: the origin's own policy wins).
    struct AddedHeader: Equatable {
        var name: String
        var value: String
    }

    /// The response head as the client gets it: `head`'s bytes with the rule's response `edits`
    /// (fields removed, set, added), plus `responseHeaders` the origin did not set. Interim (1xx)
    /// heads pass untouched.
    func clientHead(_ head: HTTPFraming.Head, bytes: ByteBuffer, edits: HeaderEdits = .none) -> ByteBuffer {
        guard head.status >= 200, !responseHeaders.isEmpty || !edits.isEmpty else { return bytes }
        let missing = responseHeaders.filter { added in
            let name = added.name.lowercased()
            return !edits.fields.contains { $0.name.lowercased() == name }
                && !head.lineRanges.indices.dropFirst().contains { head.nameOfLine($0, is: name) && !edits.removed.contains(name) }
        }
        guard !missing.isEmpty || !edits.isEmpty else { return bytes }
        var out = allocator.buffer(capacity: bytes.readableBytes + 128)
        if edits.removed.isEmpty {
            var lines = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 2)!
            out.writeBuffer(&lines)
        } else {
            for index in head.lineRanges.indices {
                if index > 0, head.nameOfLine(index, isAnyOf: edits.removed) { continue }
                var line = head.line(index)
                out.writeBuffer(&line)
                out.writeStaticString("\r\n")
            }
        }
        for header in edits.fields.map({ AddedHeader(name: $0.name, value: $0.value) }) + missing {
            out.writeString(header.name)
            out.writeStaticString(": ")
            out.writeString(header.value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }
}
