import NIOCore

/// Wire constants of Mux protocol version 1 (see `docs/mux.md`).
public enum MuxProtocol {
    /// The four magic bytes that start each side's preface: ASCII "TMUX".
    public static let magic: UInt32 = 0x544D_5558
    /// The only version this implementation speaks.
    public static let version: UInt8 = 1
    /// Preface: magic (4) + version (1) + reserved (3) + max frame payload (4).
    public static let prefaceSize = 12
    /// Frame header: length (3) + type (1) + flags (1) + ID (4).
    public static let frameHeaderSize = 9
    /// Every stream starts with this send/receive window. A protocol constant, so that opening a
    /// stream needs no round trip: the opener knows the window before the peer says anything.
    public static let initialStreamWindow = 256 * 1024
    /// The largest value a window may reach (2^31 - 1).
    public static let maxWindow = Int(Int32.max)
    /// Every implementation accepts frame payloads of at least this size; senders use it until the
    /// peer's preface announced its own limit.
    public static let minMaxFrameSize = 16 * 1024
    /// The length field is 24 bits.
    public static let maxMaxFrameSize = (1 << 24) - 1
    /// Stream IDs are 31 bits; the top bit is reserved and must be zero.
    public static let maxStreamID: UInt32 = 0x7FFF_FFFF
}

/// The type byte of a frame header.
public struct MuxFrameType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let data = MuxFrameType(rawValue: 0x0)
    public static let open = MuxFrameType(rawValue: 0x1)
    public static let windowUpdate = MuxFrameType(rawValue: 0x2)
    public static let fin = MuxFrameType(rawValue: 0x3)
    public static let reset = MuxFrameType(rawValue: 0x4)
    public static let ping = MuxFrameType(rawValue: 0x5)
    public static let goAway = MuxFrameType(rawValue: 0x6)
    public static let datagram = MuxFrameType(rawValue: 0x7)
}

/// One decoded unit of the Mux wire protocol.
///
/// Payloads (`data`, `metadata`, datagrams) are slices of the received buffer: no copy.
public enum MuxFrame: Hashable, Sendable {
    /// The peer's preface: its protocol version and the largest frame payload it accepts.
    case preface(version: UInt8, maxFrameSize: Int)
    /// Opens `streamID` carrying a small application metadata blob (target address, tunnel ID…).
    case open(streamID: UInt32, metadata: ByteBuffer)
    /// Stream bytes; counts against the stream's window.
    case data(streamID: UInt32, payload: ByteBuffer)
    /// Grants `increment` more bytes of window on `streamID`.
    case windowUpdate(streamID: UInt32, increment: UInt32)
    /// The sender will send no more data on `streamID` (half-close).
    case fin(streamID: UInt32)
    /// Abruptly ends `streamID` (or, with `.noError`, stops the peer sending after our FIN).
    case reset(streamID: UInt32, code: MuxErrorCode)
    /// Keepalive / RTT probe; `ack` marks the reply (pong) that echoes `payload`.
    case ping(ack: Bool, payload: UInt64)
    /// No new streams; streams the peer opened with ID <= `lastStreamID` will be processed.
    case goAway(lastStreamID: UInt32, code: MuxErrorCode, reason: ByteBuffer)
    /// An unreliable message (a UDP payload) for `flowID`, outside any stream.
    case datagram(flowID: UInt32, payload: ByteBuffer)
    /// A frame of a type this version does not know; ignored for forward compatibility.
    case unknown(type: UInt8, id: UInt32, length: Int)
}

/// Flag bits.
enum MuxFrameFlags {
    /// PING: this is the answer (pong).
    static let ack: UInt8 = 0x1
}
