/// The state machine of one stream, from one side's point of view. Pure value; the stream channel
/// drives it and acts on what it returns. See `docs/mux.md` § Stream states.
///
/// ```
///            send FIN                 recv FIN
///   open ───────────────► halfClosedLocal ─────────┐
///    │                                              ▼
///    └──────────────────► halfClosedRemote ──────► closed
///            recv FIN                 send FIN
///   any state ── send/recv RESET ──► closed
/// ```
struct MuxStreamState: Hashable, Sendable {
    enum State: Hashable, Sendable {
        case open
        case halfClosedLocal
        case halfClosedRemote
        case closed
    }

    private(set) var state: State = .open

    var canSend: Bool { self.state == .open || self.state == .halfClosedRemote }
    var canReceive: Bool { self.state == .open || self.state == .halfClosedLocal }
    var isClosed: Bool { self.state == .closed }

    /// We send DATA. Sending after our FIN is a local programming error, reported not crashed.
    func sendData() throws {
        guard self.canSend else { throw MuxError(code: .streamClosed, reason: "write after FIN") }
    }

    /// The peer sent DATA. After its FIN that is a STREAM_CLOSED error (stream reset).
    func receiveData() throws {
        guard self.canReceive else {
            throw MuxError(code: .streamClosed, reason: "DATA after FIN from peer")
        }
    }

    /// We send FIN. Returns true when the stream is now fully closed.
    mutating func sendFin() throws -> Bool {
        switch self.state {
        case .open: self.state = .halfClosedLocal
        case .halfClosedRemote: self.state = .closed
        case .halfClosedLocal, .closed: throw MuxError(code: .streamClosed, reason: "FIN sent twice")
        }
        return self.state == .closed
    }

    /// The peer sent FIN. Returns true when the stream is now fully closed.
    mutating func receiveFin() throws -> Bool {
        switch self.state {
        case .open: self.state = .halfClosedRemote
        case .halfClosedLocal: self.state = .closed
        case .halfClosedRemote, .closed: throw MuxError(code: .streamClosed, reason: "FIN received twice")
        }
        return self.state == .closed
    }

    /// A RESET was sent or received: closed at once, whatever the state.
    mutating func reset() {
        self.state = .closed
    }
}
