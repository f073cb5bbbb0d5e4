import NIOCore

/// The receive side of a stream: frames the session hands it (DATA, FIN, RESET, WINDOW_UPDATE),
/// the queue of payloads waiting for the reader, delivery on `read()` and window credit. Apart
/// from `MuxStreamChannel.swift` only for size; the state it uses is declared there.
extension MuxStreamChannel {
    // MARK: Inbound (called by the session)

    /// DATA arrived. Throws a flow-control or state error, which the session turns into a RESET.
    func receiveData(_ buffer: ByteBuffer) throws {
        try self.receiveWindow.receive(buffer.readableBytes)
        try self.state.receiveData()
        if self.closeRequested || buffer.readableBytes == 0 {
            // Closing: the application will not read it; keep the peer's view consistent and drop.
            // Empty: nothing to deliver, and queueing it would let a peer that sends empty frames
            // (they cost no window) grow the queue of a stream that is not reading without bound.
            return
        }
        self.bufferedInboundBytes += buffer.readableBytes
        self.pendingReads.append(.data(buffer, pinned: 0))
        self.tryToRead()
        self.keepWaitingPayloadCompact()
    }

    /// A payload still waiting for a reader after `tryToRead` is often a slice of a much larger
    /// read buffer, which it keeps alive for as long as the application does not read: a slow
    /// reader's window could cost several times its size. Such slices are kept as they are while
    /// the stream's and the session's budgets (`maxPinnedReadCapacityPerStream`,
    /// `maxPinnedReadCapacity`) allow, so that readers briefly behind cost
    /// no copy (copying every waiting payload cost the agent a fifth of its CPU under 8 bulk
    /// streams); past it they are copied, several into one buffer of `compactionBufferSize`.
    private func keepWaitingPayloadCompact() {
        guard let last = self.pendingReads.last, case .data(let held, _) = last,
            held.storageCapacity > 2 * held.readableBytes + 4096
        else { return }
        let lastIndex = self.pendingReads.index(before: self.pendingReads.endIndex)
        if self.session?.pinReadBuffer(of: held, for: &self.pinnedBuffers) ?? false {
            self.pendingReads[lastIndex] = .data(held, pinned: held.storageCapacity)
            return
        }
        // Append to the previous payload when it is a copy of ours with room left; it is taken
        // out of the queue while written to, so that the write does not copy it again.
        if lastIndex != self.pendingReads.startIndex {
            let previousIndex = self.pendingReads.index(before: lastIndex)
            if case .data(var tail, let pinned) = self.pendingReads[previousIndex], pinned == Self.ownCopy,
                tail.readableBytes + held.readableBytes <= Self.compactionBufferSize
            {
                self.pendingReads[previousIndex] = .fin
                tail.writeImmutableBuffer(held)
                self.pendingReads[previousIndex] = .data(tail, pinned: Self.ownCopy)
                self.pendingReads.removeLast()
                return
            }
        }
        var copy = self.allocator.buffer(capacity: held.readableBytes)
        copy.writeImmutableBuffer(held)
        self.pendingReads[lastIndex] = .data(copy, pinned: Self.ownCopy)
    }

    /// FIN arrived.
    func receiveFin() throws {
        _ = try self.state.receiveFin()
        if !self.closeRequested { self.pendingReads.append(.fin) }
        self.tryToRead()
        self.closeIfDone()
    }

    /// RESET arrived: with NO_ERROR the peer read to our FIN and wants no more; deliver what is
    /// buffered and close quietly. Otherwise drop everything and close with the error.
    func receiveReset(_ code: MuxErrorCode) {
        self.state.reset()
        if code == .noError {
            self.failPendingWrites(ChannelError.outputClosed)
            if self.pendingReads.isEmpty || self.lifecycle != .active {
                self.closeNow(error: nil)
            } else {
                self.tryToRead()
                self.closeIfDone()
            }
        } else {
            self.closeNow(error: MuxError.streamReset(code))
        }
    }

    /// The peer granted window.
    func receiveWindowUpdate(_ increment: UInt32) throws {
        try self.sendWindow.grant(increment)
        self.sendPendingWrites()
    }

    /// The session is gone (transport closed or session error).
    func sessionClosed(error: Error) {
        self.state.reset()
        self.closeNow(error: error)
    }

    /// Resets the stream with `code` (sending RESET) and closes it; `error` is fired into the
    /// pipeline when given.
    func resetAndClose(code: MuxErrorCode, error: Error?) {
        guard self.lifecycle != .closed else { return }
        self.state.reset()
        self.session?.sendReset(streamID: self.streamID, code: code)
        self.closeNow(error: error)
    }

    // MARK: Reading

    func tryToRead() {
        guard self.unsatisfiedRead, self.lifecycle == .active, !self.pendingReads.isEmpty else { return }
        self.unsatisfiedRead = false
        var delivered = 0
        var sawFin = false
        while let item = self.pendingReads.popFirst() {
            switch item {
            case .data(let buffer, let pinned):
                delivered += buffer.readableBytes
                self.bufferedInboundBytes -= buffer.readableBytes
                if pinned > 0 { self.releasePinned(buffer) }
                self.pipeline.fireChannelRead(buffer)
            case .fin:
                sawFin = true
            }
            if self.lifecycle != .active { return }
        }
        if delivered > 0 || (sawFin && self.bytesAwaitingReadComplete > 0) {
            self.bytesAwaitingReadComplete += delivered
            // Inside the session's read burst, read-complete comes at its end (as a socket's
            // does after several reads); a FIN completes at once, so that no reader sees the end
            // of input before the completion of what preceded it.
            if !sawFin, self.listedForReadComplete {
                // Already listed for this burst's end.
            } else if !sawFin, self.session?.deferReadComplete(of: self) ?? false {
                self.listedForReadComplete = true
            } else {
                self.completeReads()
            }
        }
        if sawFin, self.lifecycle == .active {
            if self.allowRemoteHalfClosure {
                self.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                self.closeIfDone()
            } else {
                self.close0(error: ChannelError.eof, mode: .all, promise: nil)
            }
        }
        if self.lifecycle == .active, self.autoRead {
            self.pipeline.read()
        }
        self.closeIfDone()
    }

    /// Fires the read-complete owed for delivered bytes and credits them to the peer's window.
    private func completeReads() {
        let bytes = self.bytesAwaitingReadComplete
        guard bytes > 0, self.lifecycle == .active else { return }
        self.bytesAwaitingReadComplete = 0
        self.pipeline.fireChannelReadComplete()
        if self.lifecycle == .active, self.state.canReceive {
            self.session?.streamConsumed(self, bytes: bytes)
        }
    }

    /// The session's read burst ended.
    func parentReadComplete() {
        self.listedForReadComplete = false
        self.completeReads()
    }

    /// Called by the session after the receive window said to send an update.
    func windowConsumed(_ bytes: Int, now: NIODeadline, rtt: TimeAmount?, budget: Int) -> (increment: UInt32, grewBy: Int)? {
        self.receiveWindow.consume(bytes, now: now, rtt: rtt, growthBudget: budget)
    }

    private func releasePinned(_ buffer: ByteBuffer) {
        self.pinnedBuffers.unpin(buffer)
        self.session?.unpinReadBuffer(of: buffer)
    }

    func dropPendingReads(keepFin: Bool) {
        var finPending = false
        while let item = self.pendingReads.popFirst() {
            switch item {
            case .fin: finPending = true
            case .data(let buffer, let pinned): if pinned > 0 { self.releasePinned(buffer) }
            }
        }
        self.bufferedInboundBytes = 0
        if keepFin && finPending { self.pendingReads.append(.fin) }
    }
}
