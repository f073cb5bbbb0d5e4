import NIOCore

/// Counters the session publishes for any thread.
///
/// Why: `MuxSession` is a thread-safe handle whose properties (open streams, RTT, going away…)
/// are read from any thread, while the handler that knows them is confined to the event loop; the
/// handler copies them here, under a lock, as they change.
struct MuxSessionStats: Sendable {
    var openStreams = 0
    /// Streams opened over the session's life, by either side.
    var streamsTotal = 0
    /// DATA payload bytes received and sent over the session's life.
    var bytesIn = 0
    var bytesOut = 0
    var droppedDatagrams = 0
    var smoothedRTT: TimeAmount?
    var isGoingAway = false
    var isClosed = false
}
