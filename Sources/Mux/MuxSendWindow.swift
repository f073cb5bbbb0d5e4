/// How many bytes we may still send on a stream: the peer's grant. Pure value.
struct MuxSendWindow: Hashable, Sendable {
    private(set) var available: Int

    init(initial: Int = MuxProtocol.initialStreamWindow) {
        self.available = initial
    }

    /// Bytes were sent as DATA.
    mutating func consume(_ count: Int) {
        precondition(count <= self.available, "sent beyond the window")
        self.available -= count
    }

    /// The peer granted `increment` more bytes. Growing past 2^31-1 is a FLOW_CONTROL_ERROR.
    mutating func grant(_ increment: UInt32) throws {
        let next = self.available + Int(increment)
        guard next <= MuxProtocol.maxWindow else {
            throw MuxError(code: .flowControlError, reason: "window update overflows the window")
        }
        self.available = next
    }
}
