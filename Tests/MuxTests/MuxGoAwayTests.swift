import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// Go-away in both directions: refusing new streams, draining, the drain timeout, error go-aways and `goAwayFuture`.
final class MuxGoAwayTests: XCTestCase {
    func testGoAwayRefusesNewStreamsAndClosesWhenDrained() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        pair.serverSession.goAway(reason: "restart")
        try pair.interact()
        XCTAssertTrue(pair.clientSession.isGoingAway)
        XCTAssertThrowsError(try pair.openClientStream()) { XCTAssertEqual($0 as? MuxError, MuxError.goingAway) }
        XCTAssertThrowsError(try pair.serverSession.openStream(metadata: ByteBuffer()).wait())
        // The open stream still works and finishes.
        let server = pair.serverStreams.all[0]
        stream.writeAndFlush(ByteBuffer(string: "still here"), promise: nil)
        try pair.interact()
        XCTAssertEqual(server.recorder.receivedString, "still here")
        XCTAssertTrue(pair.server.isActive)
        stream.close(mode: .output, promise: nil)
        server.channel.close(mode: .output, promise: nil)
        try pair.interact()
        XCTAssertTrue(recorder.state.inactive)
        XCTAssertFalse(pair.server.isActive, "drained session closes")
        XCTAssertTrue(pair.serverSession.isClosed)
    }

    /// `goAwayFuture` tells both sides the moment a drain starts (before the session closes), so
    /// an agent can open a replacement while the old session still carries its streams.
    func testGoAwayFutureCompletesOnBothSidesBeforeClose() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        try pair.interact()
        let seen = MuxLockedValue(false)
        pair.clientSession.goAwayFuture.whenSuccess { _ in seen.withLockedValue { $0 = true } }
        XCTAssertFalse(seen.withLockedValue { $0 }, "no go-away yet")
        pair.serverSession.goAway(reason: "restart")
        try pair.interact()
        XCTAssertEqual(try pair.serverSession.goAwayFuture.wait(), MuxGoAway(origin: .local, code: .noError, reason: "restart"))
        XCTAssertEqual(try pair.clientSession.goAwayFuture.wait(), MuxGoAway(origin: .peer, code: .noError, reason: "restart"))
        XCTAssertFalse(pair.clientSession.isClosed, "the open stream still drains")
        stream.close(promise: nil)
        try pair.interact()
        XCTAssertTrue(pair.clientSession.isClosed)
    }

    /// A go-away callback that closes the last stream (the relay closes the control stream) closes
    /// the transport at once: the GOAWAY must already be written, so the peer still learns it.
    func testGoAwayIsWrittenBeforeCallbacksRun() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        _ = try pair.openClientStream()
        try pair.interact()
        let server = pair.serverStreams.all[0].channel
        pair.serverSession.goAwayFuture.whenSuccess { _ in server.close(promise: nil) }
        let seen = MuxLockedValue<MuxGoAway?>(nil)
        pair.clientSession.goAwayFuture.whenSuccess { g in seen.withLockedValue { $0 = g } }
        pair.serverSession.goAway(reason: "drain")
        try pair.interact()
        XCTAssertEqual(seen.withLockedValue { $0 }, MuxGoAway(origin: .peer, code: .noError, reason: "drain"))
    }

    /// A session that ends without a GOAWAY fails the future (nothing leaks, nothing hangs).
    func testGoAwayFutureFailsWhenTheSessionEndsWithoutOne() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        try pair.interact()
        _ = pair.clientSession.close()
        try pair.interact()
        XCTAssertThrowsError(try pair.clientSession.goAwayFuture.wait()) { XCTAssertEqual($0 as? MuxError, MuxError.sessionClosed) }
    }

    func testGoAwayRefusesStreamsOpenedConcurrently() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverSession.goAway()
        let (stream, recorder) = try pair.openClientStream()  // crosses the GOAWAY on the wire
        _ = stream
        try pair.interact()
        XCTAssertEqual((recorder.state.errors.first as? MuxError)?.code, .refusedStream)
        XCTAssertEqual(pair.serverStreams.all.count, 0)
    }

    func testGoAwayDrainTimeoutClosesWithOpenStreams() throws {
        var config = MuxConfiguration.testDefault
        config.goAwayDrainTimeout = .seconds(2)
        let pair = try EmbeddedMuxPair(configuration: config)
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        pair.clientSession.goAway(reason: "shutting down")
        try pair.interact()
        pair.loop.advanceTime(by: .seconds(1))
        XCTAssertTrue(stream.isActive, "streams may finish during the drain")
        pair.loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(pair.client.isActive)
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual(recorder.state.errors.first as? MuxError, MuxError.sessionClosed)
    }

    func testErrorGoAwayClosesAtOnce() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        _ = try pair.openClientStream()
        pair.clientSession.goAway(code: .internalError, reason: "fatal")
        pair.loop.run()
        XCTAssertFalse(pair.client.isActive)
    }
}
