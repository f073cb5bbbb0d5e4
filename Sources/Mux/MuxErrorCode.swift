/// The 32-bit error code carried by RESET and GOAWAY frames.
///
/// Why a struct and not an enum: a peer may send codes this version does not know; they must be
/// representable and loggable rather than a decoding failure. See `docs/mux.md` § Error codes.
public struct MuxErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Graceful: on RESET, "I have sent FIN and will read no more"; on GOAWAY, an orderly drain.
    public static let noError = MuxErrorCode(rawValue: 0x0)
    /// The peer broke the protocol (bad frame for the state, bad stream ID, bad preface).
    public static let protocolError = MuxErrorCode(rawValue: 0x1)
    /// The sender hit an internal failure unrelated to the peer's behaviour.
    public static let internalError = MuxErrorCode(rawValue: 0x2)
    /// The peer sent more than the window it was granted, or overflowed a window.
    public static let flowControlError = MuxErrorCode(rawValue: 0x3)
    /// A frame arrived for a direction that was already half-closed.
    public static let streamClosed = MuxErrorCode(rawValue: 0x4)
    /// A frame exceeded the maximum frame, metadata or datagram size, or had a wrong fixed length.
    public static let frameSizeError = MuxErrorCode(rawValue: 0x5)
    /// The stream was refused before any application processing: concurrency limit or going away.
    public static let refusedStream = MuxErrorCode(rawValue: 0x6)
    /// The application abandoned the stream (closed on error, or without reading to the end).
    public static let cancel = MuxErrorCode(rawValue: 0x7)
    /// The session is closed because the peer stopped answering keepalives.
    public static let keepaliveTimeout = MuxErrorCode(rawValue: 0x8)
    /// The receiving application rejected the stream (its initializer failed, e.g. unknown target).
    public static let streamRejected = MuxErrorCode(rawValue: 0x9)

    public var description: String {
        switch self {
        case .noError: return "NO_ERROR"
        case .protocolError: return "PROTOCOL_ERROR"
        case .internalError: return "INTERNAL_ERROR"
        case .flowControlError: return "FLOW_CONTROL_ERROR"
        case .streamClosed: return "STREAM_CLOSED"
        case .frameSizeError: return "FRAME_SIZE_ERROR"
        case .refusedStream: return "REFUSED_STREAM"
        case .cancel: return "CANCEL"
        case .keepaliveTimeout: return "KEEPALIVE_TIMEOUT"
        case .streamRejected: return "STREAM_REJECTED"
        default: return "UNKNOWN(0x\(String(self.rawValue, radix: 16)))"
        }
    }
}

/// An error raised by the Mux: a code from the protocol plus human-readable context.
///
/// Why one struct: errors carry a code (what the wire says) and context (what a log reader needs)
/// without a public enum that would break clients each time a case is added.
public struct MuxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The protocol error code this error maps to (sent on the wire where applicable).
    public var code: MuxErrorCode
    /// What happened, for logs.
    public var reason: String
    /// True when the peer told us (a received RESET or GOAWAY), false when we detected it locally.
    public var isRemote: Bool

    public init(code: MuxErrorCode, reason: String, isRemote: Bool = false) {
        self.code = code
        self.reason = reason
        self.isRemote = isRemote
    }

    public var description: String {
        "MuxError(\(self.code)\(self.isRemote ? ", remote" : ""): \(self.reason))"
    }

    /// The peer reset the stream with `code`.
    public static func streamReset(_ code: MuxErrorCode) -> MuxError {
        MuxError(code: code, reason: "stream reset by peer", isRemote: true)
    }
    /// The session ended (parent channel closed) while the stream was open.
    public static let sessionClosed = MuxError(code: .cancel, reason: "session closed")
    /// No new streams: a GOAWAY was sent or received.
    public static let goingAway = MuxError(code: .refusedStream, reason: "session is going away")
    /// Opening would exceed `maxConcurrentStreams`.
    public static let tooManyStreams = MuxError(code: .refusedStream, reason: "too many concurrent streams")
    /// Metadata larger than `maxMetadataSize` or the peer's frame size.
    public static let metadataTooLarge = MuxError(code: .frameSizeError, reason: "stream metadata too large")
    /// Stream IDs of this side are exhausted (2^31 opens); open a new session.
    public static let streamIDsExhausted = MuxError(code: .refusedStream, reason: "stream IDs exhausted")
}
