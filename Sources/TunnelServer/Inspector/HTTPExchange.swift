import NIOCore

/// One request and its answer as an ingress saw them: what the request inspector keeps and what
/// the per-tunnel counters count. Filled in by the ingress state machines as the request goes on
/// and the answer comes back (pure values: the machines stay testable with bytes alone).
///
/// Heads and bodies are kept only when the inspector asks (`InspectSettings`); the rest costs a
/// few integers per request.
struct HTTPExchange: Sendable, Equatable {
    /// What to keep beyond the counters.
    struct Capture: Sendable, Equatable {
        /// Keep the heads.
        var heads: Bool
        /// Keep up to this many bytes of each body (0: none).
        var bodyLimit: Int
    }

    var tunnel: String
    var host: String
    var method: String
    /// The request-target as sent (`/x?y=1`).
    var target: String
    /// `HTTP/1.1`, `HTTP/1.0` or `h2`.
    var proto: String
    var started: NIODeadline
    var capture: Capture?
    var requestHeaders: [HeaderField] = []
    var requestBytes = 0
    var requestBody: ByteBuffer?
    var requestBodyTruncated = false
    /// The final status (not an interim 1xx); nil while none came.
    var status: Int?
    var responseHeaders: [HeaderField] = []
    var responseBytes = 0
    var responseBody: ByteBuffer?
    var responseBodyTruncated = false

    /// A header line as sent.
    struct HeaderField: Sendable, Equatable, Codable {
        var name: String
        var value: String
    }

    /// Counts a slice of the request body, keeping what fits under the capture's limit.
    mutating func requestBody(_ slice: ByteBuffer) {
        requestBytes += slice.readableBytes
        Self.keep(slice, in: &requestBody, truncated: &requestBodyTruncated, limit: capture?.bodyLimit ?? 0)
    }

    /// Counts a slice of the response body, keeping what fits under the capture's limit.
    mutating func responseBody(_ slice: ByteBuffer) {
        responseBytes += slice.readableBytes
        Self.keep(slice, in: &responseBody, truncated: &responseBodyTruncated, limit: capture?.bodyLimit ?? 0)
    }

    private static func keep(_ slice: ByteBuffer, in kept: inout ByteBuffer?, truncated: inout Bool, limit: Int) {
        guard limit > 0, slice.readableBytes > 0 else { return }
        let have = kept?.readableBytes ?? 0
        let room = limit - have
        guard room > 0 else {
            truncated = true
            return
        }
        var part = slice.getSlice(at: slice.readerIndex, length: min(room, slice.readableBytes))!
        if kept == nil { kept = ByteBuffer() }
        kept!.writeBuffer(&part)
        if slice.readableBytes > room { truncated = true }
    }
}
