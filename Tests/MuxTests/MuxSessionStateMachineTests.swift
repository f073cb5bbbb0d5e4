import NIOCore
import XCTest

@testable import Mux

/// The session's connection-level decisions, event by event, without a channel.
final class MuxSessionStateMachineTests: XCTestCase {
    private typealias Machine = MuxSessionStateMachine
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A started machine (the first ping, ID 1, is outstanding).
    private func started(
        _ role: MuxRole = .initiator,
        _ configure: (inout MuxConfiguration) -> Void = { _ in }
    ) -> Machine {
        var configuration = MuxConfiguration()
        configure(&configuration)
        var machine = Machine(role: role, configuration: configuration.normalized)
        XCTAssertNotNil(machine.start(now: self.t0))
        return machine
    }

    // MARK: Lifecycle

    func testStartSendsTheFirstPingOnceAndChannelInactiveEndsEverything() {
        var machine = Machine(role: .initiator, configuration: MuxConfiguration().normalized)
        XCTAssertEqual(machine.phase, .idle)
        XCTAssertFalse(machine.processesFrames)
        XCTAssertEqual(machine.start(now: self.t0), .start(pingID: 1, keepaliveInterval: .seconds(15)))
        XCTAssertEqual(machine.phase, .active)
        XCTAssertTrue(machine.processesFrames)
        XCTAssertEqual(machine.outstandingPingCount, 1)
        XCTAssertNil(machine.start(now: self.t0), "started once")
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 1))
        XCTAssertEqual(machine.receiveOpen(streamID: 2, metadataSize: 0), .accept)

        XCTAssertEqual(machine.channelInactive(), .shutDown(wasStarted: true))
        XCTAssertEqual(machine.phase, .closed)
        XCTAssertEqual(machine.openStreamIDs, [])
        XCTAssertEqual(machine.outstandingPingCount, 0)
        XCTAssertEqual(machine.totalReceiveWindow, 0)
        XCTAssertNil(machine.channelInactive(), "closed once")
        XCTAssertFalse(machine.streamClosed(streamID: 1, receiveWindowSize: MuxProtocol.initialStreamWindow), "already gone")
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.sessionClosed))
        XCTAssertFalse(machine.close())
    }

    func testChannelInactiveBeforeStartAndNoKeepaliveWithoutInterval() {
        var idle = Machine(role: .responder, configuration: MuxConfiguration().normalized)
        XCTAssertEqual(idle.channelInactive(), .shutDown(wasStarted: false))
        XCTAssertNil(idle.start(now: self.t0), "a closed session does not start")

        var configuration = MuxConfiguration()
        configuration.keepaliveInterval = nil
        var machine = Machine(role: .responder, configuration: configuration.normalized)
        XCTAssertEqual(machine.start(now: self.t0), .start(pingID: 1, keepaliveInterval: nil))
    }

    func testCloseMovesToClosingWhereFramesAreStillProcessedButNothingOpens() {
        var machine = self.started()
        XCTAssertTrue(machine.close())
        XCTAssertEqual(machine.phase, .closing)
        XCTAssertTrue(machine.processesFrames)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.sessionClosed))
        XCTAssertEqual(machine.receiveOpen(streamID: 2, metadataSize: 0), .refuse(.goingAway))
        XCTAssertEqual(machine.sendPing(now: self.t0, hasWaiter: true), .fail(MuxError.sessionClosed))
        XCTAssertFalse(machine.canSendDatagram(size: 1))
        XCTAssertTrue(machine.close(), "closing again is harmless")
    }

    func testSessionErrorFailsOnceAndStopsProcessing() {
        var machine = self.started()
        XCTAssertEqual(machine.receiveOpen(streamID: 4, metadataSize: 0), .accept)
        let error = MuxError(code: .internalError, reason: "boom")
        XCTAssertEqual(machine.sessionError(error), Machine.CloseOnError(lastStreamID: 4, error: error))
        XCTAssertTrue(machine.failed)
        XCTAssertFalse(machine.processesFrames)
        XCTAssertFalse(machine.bytesReceived(now: self.t0))
        XCTAssertNil(machine.sessionError(error), "fails once")
        XCTAssertEqual(machine.phase, .active, "the handler closes once the GOAWAY is announced")
        XCTAssertTrue(machine.close())
        XCTAssertEqual(machine.phase, .closing)
        XCTAssertFalse(machine.processesFrames)

        var idle = Machine(role: .initiator, configuration: MuxConfiguration().normalized)
        XCTAssertNil(idle.sessionError(error), "nothing to fail before the start")
    }

    // MARK: Peer's OPEN

    func testPeerOpensOnlyItsParityInIncreasingOrder() {
        var machine = self.started(.initiator)
        XCTAssertEqual(machine.receiveOpen(streamID: 2, metadataSize: 10), .accept)
        XCTAssertEqual(machine.receiveOpen(streamID: 6, metadataSize: 0), .accept, "IDs may be skipped")
        XCTAssertEqual(machine.highestPeerStreamID, 6)
        XCTAssertEqual(machine.peerStreamCount, 2)
        XCTAssertEqual(machine.openStreamIDs, [2, 6])
        guard case .closeOnError(let close) = machine.receiveOpen(streamID: 4, metadataSize: 0) else {
            return XCTFail("a reused (lower) ID closes the session")
        }
        XCTAssertEqual(close.lastStreamID, 6)
        XCTAssertEqual(close.error.code, .protocolError)
        XCTAssertEqual(machine.receiveOpen(streamID: 8, metadataSize: 0), .ignore, "failed: nothing more")

        var responder = self.started(.responder)
        guard case .closeOnError(let wrongParity) = responder.receiveOpen(streamID: 2, metadataSize: 0) else {
            return XCTFail("the responder's own parity closes the session")
        }
        XCTAssertEqual(wrongParity.lastStreamID, 0)
        XCTAssertEqual(wrongParity.error.code, .protocolError)
    }

    func testPeerOpenRefusalsKeepTheSession() {
        var machine = self.started(.responder) {
            $0.maxConcurrentStreams = 1
            $0.maxMetadataSize = 8
        }
        let tooLarge = machine.receiveOpen(streamID: 1, metadataSize: 9)
        XCTAssertEqual(tooLarge, .refuse(.metadataTooLarge(size: 9)))
        XCTAssertEqual(Machine.Refusal.metadataTooLarge(size: 9).code, .frameSizeError)
        XCTAssertEqual(machine.highestPeerStreamID, 1, "a refused ID is used up")
        XCTAssertEqual(machine.receiveOpen(streamID: 3, metadataSize: 8), .accept)
        XCTAssertEqual(machine.receiveOpen(streamID: 5, metadataSize: 0), .refuse(.tooManyStreams(limit: 1)))
        XCTAssertEqual(Machine.Refusal.tooManyStreams(limit: 1).code, .refusedStream)
        XCTAssertTrue(machine.streamClosed(streamID: 3, receiveWindowSize: MuxProtocol.initialStreamWindow))
        XCTAssertEqual(machine.receiveOpen(streamID: 7, metadataSize: 0), .accept, "room again")
        XCTAssertFalse(machine.failed)
        XCTAssertEqual(machine.openStreamIDs, [7])
    }

    func testPeerOpenAfterOurGoAwayIsRefused() {
        var machine = self.started(.responder)
        XCTAssertEqual(machine.receiveOpen(streamID: 1, metadataSize: 0), .accept)
        XCTAssertEqual(machine.goAway(code: .noError), .sendGoAway(lastStreamID: 1, then: .drain(timeout: nil)))
        XCTAssertEqual(machine.receiveOpen(streamID: 3, metadataSize: 0), .refuse(.goingAway))
        XCTAssertEqual(Machine.Refusal.goingAway.code, .refusedStream)
        XCTAssertEqual(machine.openStreamIDs, [1])
    }

    // MARK: Stream frames

    func testStreamFramesAreRoutedIgnoredOrCloseTheSession() {
        var machine = self.started(.initiator)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 1))
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 3))
        XCTAssertEqual(machine.receiveOpen(streamID: 4, metadataSize: 0), .accept)
        XCTAssertEqual(machine.receiveStreamFrame(streamID: 1), .deliver)
        XCTAssertEqual(machine.receiveStreamFrame(streamID: 4), .deliver)
        XCTAssertTrue(machine.streamClosed(streamID: 1, receiveWindowSize: MuxProtocol.initialStreamWindow))
        XCTAssertEqual(machine.receiveStreamFrame(streamID: 1), .ignore, "a late frame for our closed stream")
        XCTAssertEqual(machine.receiveStreamFrame(streamID: 2), .ignore, "a peer ID below its highest: refused or closed")
        XCTAssertFalse(machine.failed)
        guard case .closeOnError(let close) = machine.receiveStreamFrame(streamID: 5) else {
            return XCTFail("our ID that was never opened closes the session")
        }
        XCTAssertEqual(close.lastStreamID, 4)
        XCTAssertEqual(close.error.code, .protocolError)
        XCTAssertTrue(machine.failed)

        var other = self.started(.initiator)
        guard case .closeOnError(let neverOpened) = other.receiveStreamFrame(streamID: 6) else {
            return XCTFail("a peer ID that was never opened closes the session")
        }
        XCTAssertEqual(neverOpened.lastStreamID, 0)
        XCTAssertEqual(neverOpened.error.code, .protocolError)
        XCTAssertEqual(other.receiveStreamFrame(streamID: 8), .ignore, "after the failure: nothing more")
    }

    // MARK: Local OPEN

    func testLocalOpensUseOurParityAndRespectTheLimits() {
        var machine = self.started(.responder) {
            $0.maxConcurrentStreams = 2
            $0.maxMetadataSize = 20_000
        }
        XCTAssertEqual(machine.openStream(metadataSize: MuxProtocol.minMaxFrameSize + 1), .fail(MuxError.metadataTooLarge), "over the peer's frame size")
        machine.receivePreface(maxFrameSize: 65536)
        XCTAssertEqual(machine.peerMaxFrameSize, 65536)
        XCTAssertEqual(machine.openStream(metadataSize: 20_001), .fail(MuxError.metadataTooLarge), "over our own limit")
        XCTAssertEqual(machine.openStream(metadataSize: 20_000), .open(streamID: 2))
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 4))
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.tooManyStreams))
        XCTAssertEqual(machine.localStreamCount, 2)
        XCTAssertEqual(machine.receiveOpen(streamID: 1, metadataSize: 0), .accept, "the peer's streams count apart")
        XCTAssertTrue(machine.streamClosed(streamID: 2, receiveWindowSize: MuxProtocol.initialStreamWindow))
        XCTAssertEqual(machine.localStreamCount, 1)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 6), "IDs are never reused")
    }

    func testLocalOpenFailsWhenIDsAreExhaustedOrNotStarted() {
        var machine = self.started(.initiator)
        machine.nextLocalStreamID = MuxProtocol.maxStreamID
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: MuxProtocol.maxStreamID))
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.streamIDsExhausted))

        var idle = Machine(role: .initiator, configuration: MuxConfiguration().normalized)
        XCTAssertEqual(idle.openStream(metadataSize: 0), .fail(MuxError.sessionClosed))
    }

    // MARK: Go-away

    func testOurGoAwayDrainsUntilTheLastStreamCloses() {
        var machine = self.started(.initiator) { $0.goAwayDrainTimeout = .seconds(5) }
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 1))
        XCTAssertEqual(machine.receiveOpen(streamID: 2, metadataSize: 0), .accept)
        XCTAssertFalse(machine.closeIfDrained(), "no go-away yet")
        XCTAssertEqual(machine.goAway(code: .noError), .sendGoAway(lastStreamID: 2, then: .drain(timeout: .seconds(5))))
        XCTAssertNil(machine.goAway(code: .noError), "sent once")
        XCTAssertTrue(machine.goAwaySent)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.goingAway))
        XCTAssertFalse(machine.closeIfDrained(), "two streams still open")
        XCTAssertTrue(machine.streamClosed(streamID: 1, receiveWindowSize: MuxProtocol.initialStreamWindow))
        XCTAssertFalse(machine.closeIfDrained())
        XCTAssertTrue(machine.streamClosed(streamID: 2, receiveWindowSize: MuxProtocol.initialStreamWindow))
        XCTAssertTrue(machine.closeIfDrained())
        XCTAssertEqual(machine.phase, .closing)
        XCTAssertFalse(machine.closeIfDrained(), "closes once")
        XCTAssertFalse(machine.drainTimeoutFired(), "nothing left to time out")
    }

    func testErrorGoAwayClosesAndDrainTimeoutClosesWithStreamsOpen() {
        var failing = self.started()
        XCTAssertEqual(failing.goAway(code: .internalError), .sendGoAway(lastStreamID: 0, then: .close))

        var draining = self.started()
        XCTAssertEqual(draining.openStream(metadataSize: 0), .open(streamID: 1))
        XCTAssertEqual(draining.goAway(code: .noError), .sendGoAway(lastStreamID: 0, then: .drain(timeout: nil)))
        XCTAssertTrue(draining.drainTimeoutFired())
        XCTAssertEqual(draining.phase, .closing)
        XCTAssertEqual(draining.openStreamIDs, [1], "its streams end when the transport closes")
        XCTAssertNil(draining.goAway(code: .noError), "not active any more")

        var idle = Machine(role: .initiator, configuration: MuxConfiguration().normalized)
        XCTAssertNil(idle.goAway(code: .noError))
        XCTAssertFalse(idle.drainTimeoutFired())
    }

    func testPeerGoAwayRefusesOurUnprocessedStreamsAndStopsOpens() {
        var machine = self.started(.initiator)
        for id in [1, 3, 5, 7] as [UInt32] {
            XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: id))
        }
        XCTAssertEqual(machine.receiveOpen(streamID: 8, metadataSize: 0), .accept)
        XCTAssertEqual(machine.receiveGoAway(lastStreamID: 3), [5, 7], "ours above the last it processed, not its own")
        XCTAssertTrue(machine.goAwayReceived)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .fail(MuxError.goingAway))
        XCTAssertEqual(machine.receiveOpen(streamID: 10, metadataSize: 0), .accept, "only our GOAWAY refuses the peer's opens")
        for id in [1, 3, 5, 7, 8, 10] as [UInt32] {
            XCTAssertFalse(machine.closeIfDrained())
            XCTAssertTrue(machine.streamClosed(streamID: id, receiveWindowSize: MuxProtocol.initialStreamWindow))
        }
        XCTAssertTrue(machine.closeIfDrained())
        XCTAssertEqual(machine.phase, .closing)
    }

    // MARK: Flood protection

    func testReactiveFramesWhileBackedUpAreBounded() {
        var machine = self.started { $0.maxReactiveFramesWhileBackedUp = 3 }
        for _ in 0..<3 {
            XCTAssertEqual(machine.reactiveFrame(transportWritable: false), .send)
        }
        XCTAssertEqual(machine.reactiveFrame(transportWritable: true), .send, "a writable transport resets the count")
        for _ in 0..<3 {
            XCTAssertEqual(machine.reactiveFrame(transportWritable: false), .send)
        }
        guard case .closeOnError(let close) = machine.reactiveFrame(transportWritable: false) else {
            return XCTFail("the fourth in a row closes the session")
        }
        XCTAssertEqual(close.error.code, .protocolError)
        XCTAssertEqual(machine.reactiveFrame(transportWritable: false), .drop, "failed: no more answers")
        XCTAssertEqual(machine.reactiveFrame(transportWritable: true), .send, "a writable transport still takes RESETs")
    }

    // MARK: Pings and keepalive

    func testPongsMeasureAndSmoothTheRTT() {
        var machine = self.started()
        XCTAssertNil(machine.smoothedRTT)
        XCTAssertEqual(machine.receivePong(payload: 1, now: self.t0 + .milliseconds(80)), Machine.Pong(rtt: .milliseconds(80), smoothedRTT: .milliseconds(80)))
        XCTAssertEqual(machine.sendPing(now: self.t0, hasWaiter: true), .send(id: 2))
        XCTAssertEqual(machine.receivePong(payload: 2, now: self.t0 + .milliseconds(160)), Machine.Pong(rtt: .milliseconds(160), smoothedRTT: .milliseconds(90)))
        XCTAssertEqual(machine.smoothedRTT, .milliseconds(90))
        XCTAssertNil(machine.receivePong(payload: 2, now: self.t0), "answered already")
        XCTAssertNil(machine.receivePong(payload: 99, now: self.t0), "never sent")
        XCTAssertEqual(machine.outstandingPingCount, 0)
    }

    func testOutstandingPingsAreBounded() {
        var machine = self.started()
        for id in 2...UInt64(Machine.maxOutstandingPings) {
            XCTAssertEqual(machine.sendPing(now: self.t0, hasWaiter: true), .send(id: id))
        }
        guard case .fail(let error) = machine.sendPing(now: self.t0, hasWaiter: true) else {
            return XCTFail("the 65th outstanding ping fails")
        }
        XCTAssertEqual(error.code, .internalError)
        XCTAssertFalse(machine.failed, "the session lives")
    }

    func testKeepaliveSendsPingsUntilThePeerIsSilentTooLong() {
        var machine = self.started { $0.deadPeerTimeout = .seconds(45) }
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0 + .seconds(15)), .sendPing(id: 2))
        XCTAssertTrue(machine.bytesReceived(now: self.t0 + .seconds(40)))
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0 + .seconds(84)), .sendPing(id: 3), "44 s since the last bytes")
        guard case .closeOnError(let close) = machine.keepaliveTimerFired(now: self.t0 + .seconds(85)) else {
            return XCTFail("45 s of silence closes the session")
        }
        XCTAssertEqual(close.error.code, .keepaliveTimeout)
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0 + .seconds(100)), .none, "failed already")

        var idle = Machine(role: .initiator, configuration: MuxConfiguration().normalized)
        XCTAssertEqual(idle.keepaliveTimerFired(now: self.t0), .none)
    }

    func testKeepaliveWhileClosingChecksThePeerButSendsNoPing() {
        var machine = self.started { $0.deadPeerTimeout = .seconds(45) }
        XCTAssertTrue(machine.close())
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0 + .seconds(15)), .none)
        guard case .closeOnError = machine.keepaliveTimerFired(now: self.t0 + .seconds(45)) else {
            return XCTFail("a dead peer still fails a closing session")
        }
    }

    func testKeepaliveDropsStaleKeepalivePingsButNotExplicitOnes() {
        var machine = self.started()
        // Ping 1 (the first) is a keepalive ping; add explicit 2...11 and keepalive 12...31.
        for id in 2...11 as ClosedRange<UInt64> {
            XCTAssertEqual(machine.sendPing(now: self.t0, hasWaiter: true), .send(id: id))
        }
        for id in 12...31 as ClosedRange<UInt64> {
            XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0), .sendPing(id: id))
        }
        XCTAssertEqual(machine.outstandingPingCount, 31)
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0), .sendPing(id: 32), "below the threshold: kept")
        XCTAssertEqual(machine.outstandingPingCount, 32)
        XCTAssertEqual(machine.keepaliveTimerFired(now: self.t0), .sendPing(id: 33))
        XCTAssertEqual(machine.outstandingPingCount, 11, "the 10 explicit pings and the new one")
        XCTAssertNotNil(machine.receivePong(payload: 5, now: self.t0), "an explicit ping is still answered")
        XCTAssertNil(machine.receivePong(payload: 20, now: self.t0), "a dropped keepalive ping is not")
    }

    // MARK: Datagrams and windows

    func testDatagramLimits() {
        var machine = self.started { $0.maxDatagramSize = 30_000 }
        XCTAssertTrue(machine.acceptsDatagram(size: 30_000))
        XCTAssertFalse(machine.acceptsDatagram(size: 30_001))
        XCTAssertTrue(machine.canSendDatagram(size: MuxProtocol.minMaxFrameSize))
        XCTAssertFalse(machine.canSendDatagram(size: MuxProtocol.minMaxFrameSize + 1), "the peer's frame size until its preface")
        machine.receivePreface(maxFrameSize: 65536)
        XCTAssertTrue(machine.canSendDatagram(size: 30_000))
        XCTAssertFalse(machine.canSendDatagram(size: 30_001))
    }

    func testReceiveWindowBudgetFollowsStreamsAndGrowth() {
        var machine = self.started { $0.maxSessionWindow = 1024 * 1024 }
        XCTAssertEqual(machine.receiveWindowGrowthBudget, 1024 * 1024)
        XCTAssertEqual(machine.openStream(metadataSize: 0), .open(streamID: 1))
        XCTAssertEqual(machine.receiveOpen(streamID: 2, metadataSize: 0), .accept)
        XCTAssertEqual(machine.totalReceiveWindow, 2 * MuxProtocol.initialStreamWindow)
        machine.receiveWindowGrew(by: MuxProtocol.initialStreamWindow)
        XCTAssertEqual(machine.receiveWindowGrowthBudget, 1024 * 1024 - 3 * MuxProtocol.initialStreamWindow)
        XCTAssertTrue(machine.streamClosed(streamID: 1, receiveWindowSize: 2 * MuxProtocol.initialStreamWindow))
        XCTAssertEqual(machine.totalReceiveWindow, MuxProtocol.initialStreamWindow)
        XCTAssertFalse(machine.streamClosed(streamID: 1, receiveWindowSize: 2 * MuxProtocol.initialStreamWindow), "closed once")
        XCTAssertEqual(machine.totalReceiveWindow, MuxProtocol.initialStreamWindow)
    }
}
