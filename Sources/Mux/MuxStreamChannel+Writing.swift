import NIOCore

/// The send side of a stream: written data goes out as DATA within the peer's window and the
/// transport's writability, then a requested FIN; the channel's writability follows the bytes
/// waiting. Apart from `MuxStreamChannel.swift` only for size; the state it uses is declared
/// there.
extension MuxStreamChannel {
    // MARK: Writing

    /// Sends as much flushed data as the window and the transport allow, then a requested FIN.
    func sendPendingWrites() {
        guard self.lifecycle == .active, let session = self.session else { return }
        var wrote = false
        while self.flushedWriteCount > 0, self.state.canSend {
            guard session.transportIsWritable else {
                session.waitForTransport(self)
                break
            }
            let available = self.sendWindow.available
            if available == 0 { break }
            let index = self.pendingWrites.startIndex
            let size = self.pendingWrites[index].buffer.readableBytes
            let chunk = min(size, available, session.peerMaxFrameSize)
            if chunk == size {
                let write = self.pendingWrites.removeFirst()
                self.flushedWriteCount -= 1
                if size > 0 {
                    self.sendWindow.consume(size)
                    session.writeData(streamID: self.streamID, payload: write.buffer, promise: write.promise)
                } else {
                    write.promise?.succeed(())
                }
            } else {
                let slice = self.pendingWrites[index].buffer.readSlice(length: chunk)!
                self.sendWindow.consume(chunk)
                session.writeData(streamID: self.streamID, payload: slice, promise: nil)
            }
            self.bufferedOutboundBytes -= chunk
            wrote = true
        }
        if self.finRequested, self.pendingWrites.isEmpty, self.state.canSend {
            let promise = self.finPromise
            self.finPromise = nil
            let fullyClosed = (try? self.state.sendFin()) ?? false
            session.writeFin(streamID: self.streamID, promise: promise)
            if self.closeRequested && !fullyClosed {
                // We will not read the rest: tell the peer to stop sending.
                self.state.reset()
                session.sendReset(streamID: self.streamID, code: .noError)
            }
            wrote = true
        }
        if wrote {
            session.needsFlush()
            self.updateWritability()
            self.closeIfDone()
        }
    }

    func updateWritability() {
        let writable = self.flags.withLockedValue { $0.isWritable }
        if writable, self.bufferedOutboundBytes > self.waterMark.high {
            self.flags.withLockedValue { $0.isWritable = false }
            self.pipeline.fireChannelWritabilityChanged()
        } else if !writable, self.bufferedOutboundBytes < self.waterMark.low {
            self.flags.withLockedValue { $0.isWritable = true }
            self.pipeline.fireChannelWritabilityChanged()
        }
    }

    func failPendingWrites(_ error: Error) {
        while let write = self.pendingWrites.popFirst() {
            write.promise?.fail(error)
        }
        self.flushedWriteCount = 0
        self.bufferedOutboundBytes = 0
        if let promise = self.finPromise {
            self.finPromise = nil
            promise.fail(error)
        }
    }
}
