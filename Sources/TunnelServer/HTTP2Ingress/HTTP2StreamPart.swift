import NIOCore
import NIOHPACK
import NIOHTTP2

/// One piece of an HTTP/2 message as the relay carries it between a visitor's stream and the
/// local service: the frames that carry a message (HEADERS, DATA, trailing HEADERS) with their
/// END_STREAM flag, and nothing of the connection's own (window updates, priority, resets: each
/// side's `HTTP2StreamChannel` deals with those itself).
///
/// Both upstreams are seen as these parts: an h2c stream of the local service directly, an
/// HTTP/1.1 one through `HTTP1UpstreamTranslator`. So one state machine serves both.
enum HTTP2StreamPart: Equatable, Sendable {
    /// The first HEADERS of a message (pseudo-headers included); 1xx response heads are heads too.
    case head(HPACKHeaders, end: Bool)
    case body(ByteBuffer, end: Bool)
    /// Trailing HEADERS: always end the message.
    case trailers(HPACKHeaders)

    var endsMessage: Bool {
        switch self {
        case .head(_, let end), .body(_, let end): return end
        case .trailers: return true
        }
    }

    /// The frame payload that carries this part.
    var payload: HTTP2Frame.FramePayload {
        switch self {
        case .head(let headers, let end): return .headers(.init(headers: headers, endStream: end))
        case .body(let bytes, let end): return .data(.init(data: .byteBuffer(bytes), endStream: end))
        case .trailers(let headers): return .headers(.init(headers: headers, endStream: true))
        }
    }

    /// The part a received frame payload carries; nil for payloads that carry none of the
    /// message. `sawHead`: whether a final (non-1xx) head of this message came before, so
    /// HEADERS now are trailers.
    static func received(_ payload: HTTP2Frame.FramePayload, sawHead: inout Bool) -> HTTP2StreamPart? {
        switch payload {
        case .headers(let h):
            if sawHead { return .trailers(h.headers) }
            if let status = h.headers.first(name: ":status"), status.hasPrefix("1") {
                return .head(h.headers, end: h.endStream)
            }
            sawHead = true
            return .head(h.headers, end: h.endStream)
        case .data(let d):
            guard case .byteBuffer(let bytes) = d.data else { return nil }
            return .body(bytes, end: d.endStream)
        default:
            return nil
        }
    }
}
