import Foundation
import NIOCore

/// Splits the watch stream (one JSON object per line, cut anywhere by the transport) into
/// responses. Pure: bytes in, decoded lines out; a line longer than `maxLine` is an error (a
/// watch answer carries the values it reports, so the cap bounds what one event may hold).
struct EtcdWatchDecoder {
    let maxLine: Int
    private var pending = ByteBuffer()

    init(maxLine: Int = 4 << 20) {
        self.maxLine = maxLine
    }

    mutating func feed(_ bytes: ByteBuffer) throws -> [EtcdMessages.WatchResponse] {
        var bytes = bytes
        pending.writeBuffer(&bytes)
        var out: [EtcdMessages.WatchResponse] = []
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            let line = pending.readSlice(length: length)!
            pending.moveReaderIndex(forwardBy: 1)
            if line.readableBytes == 0 { continue }
            do {
                out.append(try JSONDecoder().decode(EtcdMessages.WatchResponse.self, from: Data(line.readableBytesView)))
            } catch {
                throw EtcdError(.malformed, call: "/v3/watch", reason: "a watch line is not JSON: \(error)")
            }
        }
        if pending.readableBytes > maxLine {
            throw EtcdError(.malformed, call: "/v3/watch", reason: "a watch line is longer than \(maxLine) bytes")
        }
        pending.discardReadBytes()
        return out
    }
}
