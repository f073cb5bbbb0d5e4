import NIOCore

/// The connection-level state of a Mux session, from one side's point of view: the session's
/// phase, which streams are open and who may open which IDs, go-away in both directions, the
/// peer's frame size, the session's receive-window budget, flood protection, keepalive and RTT.
///
/// Why a separate pure value: every decision the session takes about the connection (accept or
/// refuse an OPEN, route or ignore a stream frame, close on a protocol error, drain after a
/// go-away, declare the peer dead) is made here from events and returned as an action, so that it
/// can be tested without a channel. `MuxSessionHandler` is the glue: it turns NIO callbacks into
/// events and carries out the actions (writes frames, closes streams and the transport, completes
/// promises, logs). The per-stream state lives in each stream (`MuxStreamState`, `MuxSendWindow`,
/// `MuxReceiveWindow`); this machine only knows which stream IDs are open. See `docs/mux.md`.
///
/// ```
///          channel active              close / error / drained
///   idle ────────────────► active ───────────────────────────► closing
///                            │                                    │
///                            └──────────── channel inactive ──────┴──► closed
/// ```
/// (An idle session that is closed or goes inactive skips the phases between.) While active, our
/// GOAWAY (`goAwaySent`) refuses new streams both ways and the peer's (`goAwayReceived`) stops
/// ours; a session error (`failed`) stops the processing of anything received.
struct MuxSessionStateMachine {
    /// The session's lifecycle phase.
    enum Phase: Hashable, Sendable {
        /// Not yet started: the transport is not active.
        case idle
        /// Preface sent; streams may be opened (unless a go-away says otherwise).
        case active
        /// The transport is being closed; received frames are still processed (unless failed).
        case closing
        /// The transport is closed: every stream and timer ended.
        case closed
    }

    /// Close the session on an error: send GOAWAY with `lastStreamID` and `error`'s code, then
    /// close the transport.
    struct CloseOnError: Hashable, Sendable {
        var lastStreamID: UInt32
        var error: MuxError
    }

    /// What to do when the transport closed.
    enum ShutDownAction: Hashable, Sendable {
        /// End every stream, timer and pending ping; `wasStarted`: the session had started.
        case shutDown(wasStarted: Bool)
    }

    /// What to do once the transport became active.
    enum StartAction: Hashable, Sendable {
        /// Write the preface, then a first PING with `pingID` (it seeds the RTT estimate), flush,
        /// and start the keepalive timer when `keepaliveInterval` is set.
        case start(pingID: UInt64, keepaliveInterval: TimeAmount?)
    }

    /// Why a peer's OPEN is refused with a RESET (the session lives on).
    enum Refusal: Hashable, Sendable {
        /// The metadata exceeds `maxMetadataSize`: FRAME_SIZE_ERROR.
        case metadataTooLarge(size: Int)
        /// A go-away was sent, or the session is closing: REFUSED_STREAM.
        case goingAway
        /// The peer already has `limit` streams open: REFUSED_STREAM.
        case tooManyStreams(limit: Int)

        /// The RESET code that tells the peer.
        var code: MuxErrorCode {
            switch self {
            case .metadataTooLarge: return .frameSizeError
            case .goingAway, .tooManyStreams: return .refusedStream
            }
        }
    }

    /// What to do with a peer's OPEN.
    enum ReceiveOpenAction: Hashable, Sendable {
        /// Create the stream (already counted as open) and run the inbound initializer.
        case accept
        /// Answer with RESET(`refusal.code`).
        case refuse(Refusal)
        /// The ID is not one the peer may open: close the session.
        case closeOnError(CloseOnError)
        /// Frames are not processed (the session failed or is not running): nothing to do.
        case ignore
    }

    /// What to do with a frame (DATA, WINDOW_UPDATE, FIN, RESET) for a stream ID.
    enum StreamFrameAction: Hashable, Sendable {
        /// The stream is open: hand the frame to it.
        case deliver
        /// The stream existed and closed (a late frame), or frames are not processed: ignored.
        case ignore
        /// The stream was never opened: close the session.
        case closeOnError(CloseOnError)
    }

    /// What to do with a frame we would write only in answer to the peer (a pong, a RESET).
    enum ReactiveFrameAction: Hashable, Sendable {
        case send
        /// Not sent: the session is closing because of a flood.
        case drop
        /// Flood: the peer keeps provoking frames without reading them; close the session.
        case closeOnError(CloseOnError)
    }

    /// What to do when the application opens a stream.
    enum OpenStreamAction: Hashable, Sendable {
        /// Write OPEN for `streamID` (already counted as open) and configure the stream.
        case open(streamID: UInt32)
        /// Fail the open with `error`.
        case fail(MuxError)
    }

    /// What to do when the application sends a PING.
    enum PingAction: Hashable, Sendable {
        /// Write PING with `id` as payload.
        case send(id: UInt64)
        /// Fail the ping's promise (if any) with `error`.
        case fail(MuxError)
    }

    /// A PING answered: the round-trip sample and the new smoothed RTT.
    struct Pong: Hashable, Sendable {
        var rtt: TimeAmount
        var smoothedRTT: TimeAmount
    }

    /// What to do when the keepalive timer fires.
    enum KeepaliveAction: Hashable, Sendable {
        case none
        /// Write a keepalive PING with `id` as payload.
        case sendPing(id: UInt64)
        /// The peer was silent past the dead-peer timeout: close the session.
        case closeOnError(CloseOnError)
    }

    /// What to do when the application asks for a go-away.
    enum GoAwayAction: Hashable, Sendable {
        /// Write GOAWAY(`lastStreamID`), announce it, then close at once (an error code) or drain.
        case sendGoAway(lastStreamID: UInt32, then: AfterGoAway)
    }

    /// How a session ends after its own GOAWAY.
    enum AfterGoAway: Hashable, Sendable {
        /// An error go-away: close the transport right after the frame.
        case close
        /// An orderly go-away: close once the open streams finished, or at the drain timeout.
        case drain(timeout: TimeAmount?)
    }

    /// An outstanding PING: when it was sent, and whether a caller waits for its answer (keepalive
    /// pings have none and may be dropped unanswered).
    private struct OutstandingPing: Hashable, Sendable {
        var sent: NIODeadline
        var hasWaiter: Bool
    }

    /// Pings that may be unanswered at once (see `docs/mux.md` § Limits).
    static let maxOutstandingPings = 64
    /// Past this many outstanding pings, a keepalive tick drops the unanswered keepalive ones.
    static let staleKeepalivePings = 32

    let role: MuxRole
    let configuration: MuxConfiguration

    private(set) var phase = Phase.idle
    /// Set once the session failed on an error: nothing more received is processed.
    private(set) var failed = false
    private(set) var goAwaySent = false
    private(set) var goAwayReceived = false

    /// The open streams (both directions), by ID.
    private(set) var openStreamIDs: Set<UInt32> = []
    private(set) var localStreamCount = 0
    private(set) var peerStreamCount = 0
    /// The ID our next stream gets (internal, and settable, so tests can reach the ID limit).
    var nextLocalStreamID: UInt32
    private(set) var highestPeerStreamID: UInt32 = 0
    /// The largest frame payload the peer accepts (its preface; the minimum until then).
    private(set) var peerMaxFrameSize = MuxProtocol.minMaxFrameSize
    /// Sum of the receive windows of all open streams (auto-tuning stays under
    /// `maxSessionWindow`).
    private(set) var totalReceiveWindow = 0
    /// Reactive frames written in a row while the transport was backed up.
    private var reactiveFramesWhileBackedUp = 0

    /// When anything was last received from the peer (set when the session starts).
    private var lastReceived = NIODeadline.uptimeNanoseconds(0)
    private var nextPingID: UInt64 = 1
    private var outstandingPings: [UInt64: OutstandingPing] = [:]
    /// Smoothed round-trip time (7/8 old + 1/8 sample); nil before the first pong.
    private(set) var smoothedRTT: TimeAmount?

    /// - Parameter configuration: the session's configuration, already `normalized`.
    init(role: MuxRole, configuration: MuxConfiguration) {
        self.role = role
        self.configuration = configuration
        self.nextLocalStreamID = role == .initiator ? 1 : 2
    }

    /// Whether received bytes and frames are processed: started, not closed, not failed.
    var processesFrames: Bool {
        (self.phase == .active || self.phase == .closing) && !self.failed
    }

    /// Pings sent and not answered yet (keepalive ones included).
    var outstandingPingCount: Int { self.outstandingPings.count }

    /// Whether `id` is of the parity this side opens.
    func isLocal(_ id: UInt32) -> Bool {
        (id % 2 == 1) == (self.role == .initiator)
    }
}

// MARK: - Lifecycle

extension MuxSessionStateMachine {
    /// The transport is active (or was when the handler was added). Nil: already started.
    mutating func start(now: NIODeadline) -> StartAction? {
        guard self.phase == .idle else { return nil }
        self.phase = .active
        self.lastReceived = now
        guard case .send(let id) = self.sendPing(now: now, hasWaiter: false) else {
            preconditionFailure("a new session always has room for its first ping")
        }
        return .start(pingID: id, keepaliveInterval: self.configuration.keepaliveInterval)
    }

    /// The transport closed (or the handler was removed). Nil: already closed. Every stream is
    /// gone from the table (the handler ends them) and every ping forgotten (the handler fails
    /// their promises).
    mutating func channelInactive() -> ShutDownAction? {
        guard self.phase != .closed else { return nil }
        let wasStarted = self.phase != .idle
        self.phase = .closed
        self.openStreamIDs = []
        self.localStreamCount = 0
        self.peerStreamCount = 0
        self.totalReceiveWindow = 0
        self.outstandingPings = [:]
        return .shutDown(wasStarted: wasStarted)
    }

    /// A session error: returns the GOAWAY to send before closing, or nil when the session is
    /// not running or already failed. Frames received from now on are not processed; the
    /// handler calls `close()` once the GOAWAY is announced.
    mutating func sessionError(_ error: MuxError) -> CloseOnError? {
        guard self.phase == .active || self.phase == .closing, !self.failed else { return nil }
        self.failed = true
        return CloseOnError(lastStreamID: self.highestPeerStreamID, error: error)
    }

    /// The transport is to be closed (by the application, a go-away or an error). False: it
    /// already is.
    mutating func close() -> Bool {
        guard self.phase != .closed else { return false }
        self.phase = .closing
        return true
    }

    /// After a go-away sent or received: true when the last stream finished, and the session is
    /// now closing (the handler flushes and closes the transport).
    mutating func closeIfDrained() -> Bool {
        guard self.phase == .active, self.goAwaySent || self.goAwayReceived, self.openStreamIDs.isEmpty else {
            return false
        }
        self.phase = .closing
        return true
    }

    /// The go-away drain timeout fired: true when the session should close now.
    mutating func drainTimeoutFired() -> Bool {
        guard self.phase == .active else { return false }
        self.phase = .closing
        return true
    }
}

// MARK: - Inbound

extension MuxSessionStateMachine {
    /// Bytes arrived from the peer (anything counts as a sign of life). False: ignore them.
    mutating func bytesReceived(now: NIODeadline) -> Bool {
        guard self.processesFrames else { return false }
        self.lastReceived = now
        return true
    }

    /// The peer's preface announced the largest frame payload it accepts.
    mutating func receivePreface(maxFrameSize: Int) {
        self.peerMaxFrameSize = maxFrameSize
    }

    /// The peer opened `streamID` with `metadataSize` bytes of metadata.
    mutating func receiveOpen(streamID id: UInt32, metadataSize: Int) -> ReceiveOpenAction {
        guard self.processesFrames else { return .ignore }
        guard !self.isLocal(id), id > self.highestPeerStreamID else {
            let error = MuxError(code: .protocolError, reason: "OPEN with invalid stream ID \(id)")
            guard let close = self.sessionError(error) else { return .ignore }
            return .closeOnError(close)
        }
        self.highestPeerStreamID = id
        guard metadataSize <= self.configuration.maxMetadataSize else {
            return .refuse(.metadataTooLarge(size: metadataSize))
        }
        guard !self.goAwaySent, self.phase == .active else {
            return .refuse(.goingAway)
        }
        guard self.peerStreamCount < self.configuration.maxConcurrentStreams else {
            return .refuse(.tooManyStreams(limit: self.configuration.maxConcurrentStreams))
        }
        self.peerStreamCount += 1
        self.addStream(id)
        return .accept
    }

    /// A DATA, WINDOW_UPDATE, FIN or RESET frame for `streamID` arrived.
    mutating func receiveStreamFrame(streamID id: UInt32) -> StreamFrameAction {
        guard self.processesFrames else { return .ignore }
        if self.openStreamIDs.contains(id) { return .deliver }
        let known = self.isLocal(id) ? id < self.nextLocalStreamID : id <= self.highestPeerStreamID
        if known { return .ignore }
        let error = MuxError(code: .protocolError, reason: "frame for stream \(id) which was never opened")
        guard let close = self.sessionError(error) else { return .ignore }
        return .closeOnError(close)
    }

    /// The peer answered the PING with `payload`. Nil: not a ping we are waiting for.
    mutating func receivePong(payload: UInt64, now: NIODeadline) -> Pong? {
        guard let ping = self.outstandingPings.removeValue(forKey: payload) else { return nil }
        let rtt = now - ping.sent
        let smoothed: TimeAmount
        if let srtt = self.smoothedRTT {
            smoothed = .nanoseconds((srtt.nanoseconds * 7 + rtt.nanoseconds) / 8)
        } else {
            smoothed = rtt
        }
        self.smoothedRTT = smoothed
        return Pong(rtt: rtt, smoothedRTT: smoothed)
    }

    /// The peer sent GOAWAY: no new streams. Returns our streams above `lastStreamID`, which the
    /// peer never processed (the handler refuses them; then announces the go-away and calls
    /// `closeIfDrained`).
    mutating func receiveGoAway(lastStreamID: UInt32) -> [UInt32] {
        self.goAwayReceived = true
        return self.openStreamIDs.filter { self.isLocal($0) && $0 > lastStreamID }.sorted()
    }

    /// Whether a received datagram of `size` bytes is delivered (larger ones are dropped).
    func acceptsDatagram(size: Int) -> Bool {
        size <= self.configuration.maxDatagramSize
    }
}

// MARK: - Local requests

extension MuxSessionStateMachine {
    /// The application opens a stream with `metadataSize` bytes of metadata.
    mutating func openStream(metadataSize: Int) -> OpenStreamAction {
        guard self.phase == .active else { return .fail(MuxError.sessionClosed) }
        guard !self.goAwaySent, !self.goAwayReceived else { return .fail(MuxError.goingAway) }
        guard self.localStreamCount < self.configuration.maxConcurrentStreams else {
            return .fail(MuxError.tooManyStreams)
        }
        guard metadataSize <= min(self.configuration.maxMetadataSize, self.peerMaxFrameSize) else {
            return .fail(MuxError.metadataTooLarge)
        }
        guard self.nextLocalStreamID <= MuxProtocol.maxStreamID else {
            return .fail(MuxError.streamIDsExhausted)
        }
        let id = self.nextLocalStreamID
        self.nextLocalStreamID += 2
        self.localStreamCount += 1
        self.addStream(id)
        return .open(streamID: id)
    }

    /// A stream closed with a receive window of `receiveWindowSize`. Returns whether it was
    /// open (false: already gone, e.g. after the session closed).
    mutating func streamClosed(streamID id: UInt32, receiveWindowSize: Int) -> Bool {
        guard self.openStreamIDs.remove(id) != nil else { return false }
        if self.isLocal(id) {
            self.localStreamCount -= 1
        } else {
            self.peerStreamCount -= 1
        }
        self.totalReceiveWindow -= receiveWindowSize
        return true
    }

    /// How much more the streams' receive windows may grow in total.
    var receiveWindowGrowthBudget: Int {
        self.configuration.maxSessionWindow - self.totalReceiveWindow
    }

    /// A stream's receive window grew by `bytes` (auto-tuning).
    mutating func receiveWindowGrew(by bytes: Int) {
        self.totalReceiveWindow += bytes
    }

    /// We are about to write a frame only in answer to the peer (a pong, a RESET). Flood
    /// protection: counted while the transport is backed up; past the limit the peer, which keeps
    /// provoking them without reading, is cut off instead of making us buffer without bound.
    mutating func reactiveFrame(transportWritable: Bool) -> ReactiveFrameAction {
        if transportWritable {
            self.reactiveFramesWhileBackedUp = 0
            return .send
        }
        self.reactiveFramesWhileBackedUp += 1
        guard self.reactiveFramesWhileBackedUp > self.configuration.maxReactiveFramesWhileBackedUp else {
            return .send
        }
        let error = MuxError(code: .protocolError, reason: "peer provokes control frames without reading them (flood)")
        guard let close = self.sessionError(error) else { return .drop }
        return .closeOnError(close)
    }

    /// Whether a datagram of `size` bytes may be sent (the transport's room is the handler's
    /// business).
    func canSendDatagram(size: Int) -> Bool {
        self.phase == .active && size <= min(self.configuration.maxDatagramSize, self.peerMaxFrameSize)
    }

    /// A PING is to be sent; `hasWaiter`: a caller waits for the round trip.
    mutating func sendPing(now: NIODeadline, hasWaiter: Bool) -> PingAction {
        guard self.phase == .active else { return .fail(MuxError.sessionClosed) }
        guard self.outstandingPings.count < Self.maxOutstandingPings else {
            return .fail(MuxError(code: .internalError, reason: "too many outstanding pings"))
        }
        let id = self.nextPingID
        self.nextPingID &+= 1
        self.outstandingPings[id] = OutstandingPing(sent: now, hasWaiter: hasWaiter)
        return .send(id: id)
    }

    /// The keepalive interval elapsed: declare the peer dead, or send a keepalive PING.
    mutating func keepaliveTimerFired(now: NIODeadline) -> KeepaliveAction {
        guard self.phase == .active || self.phase == .closing else { return .none }
        let silence = now - self.lastReceived
        if silence >= self.configuration.deadPeerTimeout {
            let error = MuxError(code: .keepaliveTimeout, reason: "no frame from peer for \(silence.nanoseconds / 1_000_000) ms")
            guard let close = self.sessionError(error) else { return .none }
            return .closeOnError(close)
        }
        // Drop stale unanswered keepalive pings so they cannot pile up.
        if self.outstandingPings.count >= Self.staleKeepalivePings {
            self.outstandingPings = self.outstandingPings.filter { $0.value.hasWaiter }
        }
        guard case .send(let id) = self.sendPing(now: now, hasWaiter: false) else { return .none }
        return .sendPing(id: id)
    }

    /// The application asks the session to go away with `code`. Nil: not active, or a GOAWAY was
    /// already sent.
    mutating func goAway(code: MuxErrorCode) -> GoAwayAction? {
        guard self.phase == .active, !self.goAwaySent else { return nil }
        self.goAwaySent = true
        let then: AfterGoAway = code == .noError ? .drain(timeout: self.configuration.goAwayDrainTimeout) : .close
        return .sendGoAway(lastStreamID: self.highestPeerStreamID, then: then)
    }
}

// MARK: - Helpers

extension MuxSessionStateMachine {
    private mutating func addStream(_ id: UInt32) {
        self.openStreamIDs.insert(id)
        self.totalReceiveWindow += MuxProtocol.initialStreamWindow
    }
}
