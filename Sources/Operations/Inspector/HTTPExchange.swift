import NIOCore
import Shared

/// One request and its answer as a data path saw them (the relay's ingress, the agent's stream
/// tap): what the request inspector keeps and what the per-tunnel counters count. Filled in by
/// pure state machines as the request goes on and the answer comes back (pure values: the
/// machines stay testable with bytes alone).
///
/// Heads and bodies are kept only when the inspector asks (`InspectSettings`); the rest costs a
/// few integers per request.
package struct HTTPExchange: Sendable, Equatable {
    /// What to keep beyond the counters.
    package struct Capture: Sendable, Equatable {
        /// Keep the heads.
        package var heads: Bool
        /// Keep up to this many bytes of each body (0: none).
        package var bodyLimit: Int

        package init(heads: Bool, bodyLimit: Int) {
            self.heads = heads
            self.bodyLimit = bodyLimit
        }
    }

    package var tunnel: String
    package var host: String
    package var method: String
    /// The request-target as sent (`/x?y=1`).
    package var target: String
    /// `HTTP/1.1`, `HTTP/1.0` or `h2`.
    package var proto: String
    package var started: NIODeadline
    package var capture: Capture?
    package var requestHeaders: [HeaderField] = []
    package var requestBytes = 0
    package var requestBody: ByteBuffer?
    package var requestBodyTruncated = false
    /// The final status (not an interim 1xx); nil while none came.
    package var status: Int?
    package var responseHeaders: [HeaderField] = []
    package var responseBytes = 0
    package var responseBody: ByteBuffer?
    package var responseBodyTruncated = false

    package init(tunnel: String, host: String, method: String, target: String, proto: String, started: NIODeadline, capture: Capture?) {
        self.tunnel = tunnel
        self.host = host
        self.method = method
        self.target = target
        self.proto = proto
        self.started = started
        self.capture = capture
    }

    /// A header line as sent: the inspector's own JSON shape, so a record takes the heads as
    /// they are.
    package typealias HeaderField = InspectedRequest.Header

    /// Counts a slice of the request body, keeping what fits under the capture's limit.
    package mutating func requestBody(_ slice: ByteBuffer) {
        requestBytes += slice.readableBytes
        Self.keep(slice, in: &requestBody, truncated: &requestBodyTruncated, limit: capture?.bodyLimit ?? 0)
    }

    /// Counts a slice of the response body, keeping what fits under the capture's limit.
    package mutating func responseBody(_ slice: ByteBuffer) {
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

extension InspectedRequest.Header {
    /// The fields of a head `HTTPFraming` parsed.
    package static func of(_ head: HTTPFraming.Head) -> [Self] {
        head.headerFields.map { Self(name: $0.name, value: $0.value) }
    }
}
