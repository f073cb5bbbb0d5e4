import NIOCore

/// Serialises frames. Stateless; the session decides what to send.
///
/// Why payloads are returned separately for DATA and DATAGRAM: the header goes in a small buffer and
/// the payload is written as its own buffer, so the socket's vector write sends both without
/// copying the payload.
enum MuxFrameEncoder {
    static func writePreface(maxFrameSize: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(MuxProtocol.magic)
        buffer.writeInteger(MuxProtocol.version)
        buffer.writeRepeatingByte(0, count: 3)
        buffer.writeInteger(UInt32(maxFrameSize))
    }

    @inline(__always)
    static func writeHeader(length: Int, type: MuxFrameType, flags: UInt8 = 0, id: UInt32, into buffer: inout ByteBuffer) {
        precondition(length <= MuxProtocol.maxMaxFrameSize)
        buffer.writeInteger(UInt8(truncatingIfNeeded: length >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: length))
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(id)
    }

    /// Writes a whole frame (header and payload) into `buffer`. Used for control frames, tests and
    /// the fuzzer; the session writes DATA payloads separately.
    static func write(_ frame: MuxFrame, into buffer: inout ByteBuffer) {
        switch frame {
        case .preface(_, let maxFrameSize):
            self.writePreface(maxFrameSize: maxFrameSize, into: &buffer)
        case .open(let id, let metadata):
            self.writeHeader(length: metadata.readableBytes, type: .open, id: id, into: &buffer)
            buffer.writeImmutableBuffer(metadata)
        case .data(let id, let payload):
            self.writeHeader(length: payload.readableBytes, type: .data, id: id, into: &buffer)
            buffer.writeImmutableBuffer(payload)
        case .windowUpdate(let id, let increment):
            self.writeHeader(length: 4, type: .windowUpdate, id: id, into: &buffer)
            buffer.writeInteger(increment)
        case .fin(let id):
            self.writeHeader(length: 0, type: .fin, id: id, into: &buffer)
        case .reset(let id, let code):
            self.writeHeader(length: 4, type: .reset, id: id, into: &buffer)
            buffer.writeInteger(code.rawValue)
        case .ping(let ack, let payload):
            self.writeHeader(length: 8, type: .ping, flags: ack ? MuxFrameFlags.ack : 0, id: 0, into: &buffer)
            buffer.writeInteger(payload)
        case .goAway(let last, let code, let reason):
            self.writeHeader(length: 8 + reason.readableBytes, type: .goAway, id: 0, into: &buffer)
            buffer.writeInteger(last)
            buffer.writeInteger(code.rawValue)
            buffer.writeImmutableBuffer(reason)
        case .datagram(let flowID, let payload):
            self.writeHeader(length: payload.readableBytes, type: .datagram, id: flowID, into: &buffer)
            buffer.writeImmutableBuffer(payload)
        case .unknown(let type, let id, let length):
            self.writeHeader(length: length, type: MuxFrameType(rawValue: type), id: id, into: &buffer)
            buffer.writeRepeatingByte(0, count: length)
        }
    }
}
