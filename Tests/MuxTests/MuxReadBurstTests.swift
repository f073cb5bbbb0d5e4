import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// The read path: frames of one transport read, read-completes per burst, and payloads that wait for a reader (pinned read buffers, copies, empty frames).
final class MuxReadBurstTests: XCTestCase {
    /// A TLS handler delivers a whole burst of plaintext in one read: many frames in one large
    /// buffer must decode, not trip a buffer limit.
    func testOneLargeReadWithManyFramesDecodes() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()))
        for _ in 0..<3 { MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 65536)), into: &burst) }
        for id in stride(from: UInt32(3), through: 401, by: 2) {
            MuxFrameEncoder.write(.open(streamID: id, metadata: ByteBuffer(string: "x")), into: &burst)
            MuxFrameEncoder.write(.fin(streamID: id), into: &burst)
        }
        XCTAssertGreaterThan(burst.readableBytes, 196_608)
        try pair.server.writeInbound(burst)
        XCTAssertTrue(pair.server.isActive)
        XCTAssertEqual(pair.serverStreams.all.count, 201)
        XCTAssertEqual(pair.serverStreams.all[0].recorder.state.received.readableBytes, 196_608)
    }

    /// Several DATA frames for a stream in one transport read reach its pipeline as several reads
    /// and one read-complete at the burst's end, as a socket's reads do: a relay that flushes on
    /// read-complete then writes once per burst, not once per frame. A FIN completes what came
    /// before it first.
    func testReadsOfOneBurstCompleteOnceAtItsEnd() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (a, b, c) = (ReadEvents(), ReadEvents(), ReadEvents())
        pair.serverStreams.extraHandler = { n in [a, b, c][min(n, 2)] }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()), .open(streamID: 3, metadata: ByteBuffer()))
        for _ in 0..<3 {
            MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 1000)), into: &burst)
            MuxFrameEncoder.write(.data(streamID: 3, payload: ByteBuffer(repeating: 2, count: 10)), into: &burst)
        }
        MuxFrameEncoder.write(.fin(streamID: 3), into: &burst)
        try pair.server.writeInbound(burst)
        XCTAssertEqual(a.events, ["read 1000", "read 1000", "read 1000", "complete"])
        XCTAssertEqual(b.events, ["read 10", "read 10", "read 10", "complete", "fin"])
        // The bytes are credited back once the reads complete: one window update per stream.
        let updates = try decodeAll(try drain(pair.server), preface: false).filter {
            if case .windowUpdate = $0 { return true } else { return false }
        }
        XCTAssertLessThanOrEqual(updates.count, 2)
        try pair.server.writeInbound(encode(.data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 5))))
        XCTAssertEqual(a.events.suffix(2), ["read 5", "complete"])
        // Data then a RESET in one burst: the reads complete before the stream closes.
        try pair.server.writeInbound(encode(
            .open(streamID: 5, metadata: ByteBuffer()), .data(streamID: 5, payload: ByteBuffer(repeating: 3, count: 7)),
            .reset(streamID: 5, code: .cancel)))
        XCTAssertEqual(c.events, ["read 7", "complete", "error", "inactive"])
    }

    /// Small payloads waiting for a reader keep their (large) read buffers alive only within the
    /// session's budget; past it they are copied, so a slow reader costs about its window, not
    /// several times it. Nothing is lost or reordered either way.
    func testWaitingSlicesOfLargeReadsAreCopiedPastTheBudget() throws {
        var sessionBound = MuxConfiguration.testDefault
        sessionBound.maxPinnedReadCapacity = 300_000
        var streamBound = MuxConfiguration.testDefault
        streamBound.maxPinnedReadCapacityPerStream = 300_000
        for configuration in [sessionBound, streamBound] {
            try self.checkWaitingSlicesAreCopiedPastTheBudget(configuration)
        }
    }

    private func checkWaitingSlicesAreCopiedPastTheBudget(_ configuration: MuxConfiguration) throws {
        let pair = try EmbeddedMuxPair(configuration: configuration)
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        let stream = try XCTUnwrap(pair.serverStreams.all.first?.channel as? MuxStreamChannel)
        var expected = ByteBuffer()
        for k in 0..<3 {
            var read = ByteBufferAllocator().buffer(capacity: 256 * 1024)
            let payload = ByteBuffer(repeating: UInt8(k), count: 1000)
            MuxFrameEncoder.write(.data(streamID: 1, payload: payload), into: &read)
            expected.writeImmutableBuffer(payload)
            try pair.server.writeInbound(read)
            XCTAssertEqual(stream.pinnedCapacity, read.capacity, "read \(k): only the first fits the budget")
        }
        stream.read()
        XCTAssertEqual(stream.pinnedCapacity, 0)
        XCTAssertEqual(pair.serverStreams.all[0].recorder.state.received, expected)
    }

    /// A read buffer shared by several streams' waiting payloads counts once in the budget.
    func testASharedReadBufferCountsOnce() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxPinnedReadCapacity = 300_000
        let pair = try EmbeddedMuxPair(configuration: configuration)
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        var read = ByteBufferAllocator().buffer(capacity: 256 * 1024)
        for id in stride(from: UInt32(1), through: 7, by: 2) {
            MuxFrameEncoder.write(.open(streamID: id, metadata: ByteBuffer()), into: &read)
            MuxFrameEncoder.write(.data(streamID: id, payload: ByteBuffer(repeating: UInt8(id), count: 1000)), into: &read)
        }
        try pair.server.writeInbound(read)
        let streams = pair.serverStreams.all.map { $0.channel as! MuxStreamChannel }
        XCTAssertEqual(streams.count, 4)
        XCTAssertEqual(streams.map(\.pinnedCapacity), Array(repeating: read.capacity, count: 4), "all four kept as slices")
        for stream in streams { stream.read() }
        XCTAssertEqual(streams.map(\.pinnedCapacity), [0, 0, 0, 0])
        for (k, entry) in pair.serverStreams.all.enumerated() {
            XCTAssertEqual(entry.recorder.state.received, ByteBuffer(repeating: UInt8(2 * k + 1), count: 1000))
        }
    }

    /// A RESET in the burst that delivered data: the owed read-complete comes first, but a read
    /// asked for in it cannot deliver what the reset dropped, and the stream closes once.
    func testResetInABurstCompletesReadsThenClosesOnce() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let handler = ReadEvents(readAgainOnComplete: true)
        pair.serverStreams.extraHandler = { _ in handler }
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        pair.serverStreams.all[0].channel.read()
        try pair.server.writeInbound(encode(
            .data(streamID: 1, payload: ByteBuffer(repeating: 1, count: 5)),
            .data(streamID: 1, payload: ByteBuffer(repeating: 2, count: 6)),
            .reset(streamID: 1, code: .cancel)))
        pair.loop.run()
        XCTAssertEqual(handler.events, ["read 5", "complete", "error", "inactive"])
    }

    /// Empty DATA frames cost no window; a stream that is not reading does not queue them.
    func testEmptyDataFramesAreNotQueued() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let events = ReadEvents()
        pair.serverStreams.extraHandler = { _ in events }
        var burst = encode(.open(streamID: 1, metadata: ByteBuffer()))
        for _ in 0..<10_000 { MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer()), into: &burst) }
        MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(repeating: 7, count: 3)), into: &burst)
        try pair.server.writeInbound(burst)
        pair.serverStreams.all[0].channel.read()
        XCTAssertEqual(events.events, ["read 3", "complete"])
    }
}
