import NIOCore

/// Decodes the peer's preface and then frames, validating every length before reading a byte of
/// payload.
///
/// Why a single-step decoder: it is a pure value that tests and the fuzzer drive directly. It never
/// waits for more than one frame's payload (`maxFrameSize`) because a header whose length exceeds
/// the limit is rejected before any of its payload is read.
///
/// With `streamsData`, a DATA frame whose payload has only partly arrived is returned in pieces
/// (each a `.data` frame of the bytes at hand) instead of being waited for whole: the session then
/// never has to gather a large payload from several reads into one buffer, which is a copy of
/// every byte (and, when earlier payloads still share the read buffer, a copy of the buffer too).
/// In that mode a call may consume a DATA header and return nil.
struct MuxFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = MuxFrame

    /// The largest payload accepted (what our preface announces).
    let maxFrameSize: Int
    let streamsData: Bool
    private var sawPreface = false
    /// Payload bytes of the DATA frame being streamed that have not arrived yet.
    private var dataRemaining = 0
    private var dataStreamID: UInt32 = 0

    init(maxFrameSize: Int, streamsData: Bool = false) {
        self.maxFrameSize = maxFrameSize
        self.streamsData = streamsData
    }

    /// How many more bytes `buffer` (on which `decode` just returned nil) needs before `decode`
    /// can make progress; at least 1.
    func bytesWanted(_ buffer: ByteBuffer) -> Int {
        if !self.sawPreface { return max(1, MuxProtocol.prefaceSize - buffer.readableBytes) }
        guard self.dataRemaining == 0, buffer.readableBytes >= MuxProtocol.frameHeaderSize else {
            return max(1, MuxProtocol.frameHeaderSize - buffer.readableBytes)
        }
        let start = buffer.readerIndex
        let length = Int(buffer.getInteger(at: start, as: UInt8.self)!) << 16 | Int(buffer.getInteger(at: start + 1, as: UInt16.self)!)
        return max(1, MuxProtocol.frameHeaderSize + length - buffer.readableBytes)
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> MuxFrame? {
        if !self.sawPreface {
            return try self.decodePreface(buffer: &buffer)
        }
        if self.dataRemaining > 0 {
            guard buffer.readableBytes > 0 else { return nil }
            let n = min(self.dataRemaining, buffer.readableBytes)
            self.dataRemaining -= n
            return .data(streamID: self.dataStreamID, payload: buffer.readSlice(length: n)!)
        }
        guard buffer.readableBytes >= MuxProtocol.frameHeaderSize else { return nil }
        let start = buffer.readerIndex
        let b0 = buffer.getInteger(at: start, as: UInt8.self)!
        let b12 = buffer.getInteger(at: start + 1, as: UInt16.self)!
        let length = Int(b0) << 16 | Int(b12)
        let type = MuxFrameType(rawValue: buffer.getInteger(at: start + 3, as: UInt8.self)!)
        let flags = buffer.getInteger(at: start + 4, as: UInt8.self)!
        let rawID = buffer.getInteger(at: start + 5, as: UInt32.self)!

        guard length <= self.maxFrameSize else {
            throw MuxError(code: .frameSizeError, reason: "frame length \(length) exceeds max frame size \(self.maxFrameSize)")
        }
        try Self.validateFixedLength(type: type, length: length)
        if self.streamsData, type == .data, buffer.readableBytes < MuxProtocol.frameHeaderSize + length {
            guard rawID & 0x8000_0000 == 0 else {
                throw MuxError(code: .protocolError, reason: "reserved bit set in stream ID \(rawID)")
            }
            try Self.requireStream(rawID, type: "DATA")
            buffer.moveReaderIndex(forwardBy: MuxProtocol.frameHeaderSize)
            let n = buffer.readableBytes
            self.dataRemaining = length - n
            self.dataStreamID = rawID
            return n > 0 ? .data(streamID: rawID, payload: buffer.readSlice(length: n)!) : nil
        }
        guard buffer.readableBytes >= MuxProtocol.frameHeaderSize + length else { return nil }
        buffer.moveReaderIndex(forwardBy: MuxProtocol.frameHeaderSize)

        switch type {
        case .datagram:
            // The ID field is an application flow label: all 32 bits are usable.
            return .datagram(flowID: rawID, payload: buffer.readSlice(length: length)!)
        default:
            break
        }
        guard rawID & 0x8000_0000 == 0 else {
            throw MuxError(code: .protocolError, reason: "reserved bit set in stream ID \(rawID)")
        }
        let id = rawID
        switch type {
        case .data:
            try Self.requireStream(id, type: "DATA")
            return .data(streamID: id, payload: buffer.readSlice(length: length)!)
        case .open:
            try Self.requireStream(id, type: "OPEN")
            return .open(streamID: id, metadata: buffer.readSlice(length: length)!)
        case .windowUpdate:
            try Self.requireStream(id, type: "WINDOW_UPDATE")
            let increment = buffer.readInteger(as: UInt32.self)!
            guard increment > 0, increment <= UInt32(MuxProtocol.maxWindow) else {
                throw MuxError(code: .flowControlError, reason: "invalid window increment \(increment)")
            }
            return .windowUpdate(streamID: id, increment: increment)
        case .fin:
            try Self.requireStream(id, type: "FIN")
            return .fin(streamID: id)
        case .reset:
            try Self.requireStream(id, type: "RESET")
            return .reset(streamID: id, code: MuxErrorCode(rawValue: buffer.readInteger(as: UInt32.self)!))
        case .ping:
            try Self.requireSession(id, type: "PING")
            return .ping(ack: flags & MuxFrameFlags.ack != 0, payload: buffer.readInteger(as: UInt64.self)!)
        case .goAway:
            try Self.requireSession(id, type: "GOAWAY")
            let last = buffer.readInteger(as: UInt32.self)! & MuxProtocol.maxStreamID
            let code = MuxErrorCode(rawValue: buffer.readInteger(as: UInt32.self)!)
            return .goAway(lastStreamID: last, code: code, reason: buffer.readSlice(length: length - 8)!)
        default:
            buffer.moveReaderIndex(forwardBy: length)
            return .unknown(type: type.rawValue, id: id, length: length)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MuxFrame? {
        try self.decode(buffer: &buffer)
    }

    private mutating func decodePreface(buffer: inout ByteBuffer) throws -> MuxFrame? {
        // Reject a wrong magic as soon as its first bytes arrive, without waiting for 12 bytes.
        let available = min(buffer.readableBytes, 4)
        for i in 0..<available {
            let expected = UInt8(truncatingIfNeeded: MuxProtocol.magic >> (24 - 8 * UInt32(i)))
            guard buffer.getInteger(at: buffer.readerIndex + i, as: UInt8.self)! == expected else {
                throw MuxError(code: .protocolError, reason: "bad preface: not a Mux peer")
            }
        }
        guard buffer.readableBytes >= MuxProtocol.prefaceSize else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let version = buffer.readInteger(as: UInt8.self)!
        buffer.moveReaderIndex(forwardBy: 3)
        let maxFrame = Int(buffer.readInteger(as: UInt32.self)!)
        guard version == MuxProtocol.version else {
            throw MuxError(code: .protocolError, reason: "unsupported Mux version \(version)")
        }
        guard maxFrame >= MuxProtocol.minMaxFrameSize, maxFrame <= MuxProtocol.maxMaxFrameSize else {
            throw MuxError(code: .protocolError, reason: "invalid max frame size \(maxFrame) in preface")
        }
        self.sawPreface = true
        return .preface(version: version, maxFrameSize: maxFrame)
    }

    private static func validateFixedLength(type: MuxFrameType, length: Int) throws {
        let expected: Int?
        switch type {
        case .windowUpdate, .reset: expected = 4
        case .fin: expected = 0
        case .ping: expected = 8
        case .goAway:
            guard length >= 8 else {
                throw MuxError(code: .frameSizeError, reason: "GOAWAY shorter than 8 bytes")
            }
            expected = nil
        default: expected = nil
        }
        if let expected, expected != length {
            throw MuxError(code: .frameSizeError, reason: "frame type \(type.rawValue) must be \(expected) bytes, got \(length)")
        }
    }

    private static func requireStream(_ id: UInt32, type: String) throws {
        guard id != 0 else { throw MuxError(code: .protocolError, reason: "\(type) on stream 0") }
    }

    private static func requireSession(_ id: UInt32, type: String) throws {
        guard id == 0 else { throw MuxError(code: .protocolError, reason: "\(type) on stream \(id)") }
    }
}
