import NIOCore

/// The stream channels' side of the session: opening streams, and what the streams call back for
/// read bursts, read-buffer budgets, window credit and their close. Apart from
/// `MuxSessionHandler.swift` only for size; the state it uses is declared there.
extension MuxSessionHandler {
    // MARK: Opening streams

    func openStream(metadata: ByteBuffer, initializer: @escaping (Channel) -> EventLoopFuture<Void>, promise: EventLoopPromise<Channel>) {
        guard let context = self.context else {
            promise.fail(MuxError.sessionClosed)
            return
        }
        let id: UInt32
        switch self.machine.openStream(metadataSize: metadata.readableBytes) {
        case .fail(let error):
            promise.fail(error)
            return
        case .open(let streamID):
            id = streamID
        }
        let stream = MuxStreamChannel(streamID: id, session: self, parent: context.channel, configuration: self.configuration)
        self.addStream(stream)
        self.writeControl(.open(streamID: id, metadata: metadata))
        stream.configure(initializer: initializer, failureCode: .cancel, promise: promise)
        self.needsFlush()
    }

    // MARK: Called by streams

    /// Counts `slice`'s read buffer as kept alive by a payload of `stream` waiting for its
    /// reader, if both the stream's and the session's budgets allow; false: copy it instead.
    func pinReadBuffer(of slice: ByteBuffer, for stream: inout MuxPinnedBuffers) -> Bool {
        guard stream.fits(slice, limit: self.configuration.maxPinnedReadCapacityPerStream),
            self.pinnedReadBuffers.fits(slice, limit: self.configuration.maxPinnedReadCapacity)
        else { return false }
        stream.pin(slice)
        self.pinnedReadBuffers.pin(slice)
        return true
    }

    /// A payload counted by `pinReadBuffer` was delivered or dropped.
    func unpinReadBuffer(of slice: ByteBuffer) {
        self.pinnedReadBuffers.unpin(slice)
    }

    /// Whether `stream`'s read-complete should wait for the end of the current read burst; if
    /// so, the stream is listed to be completed then (it asks once per burst).
    func deferReadComplete(of stream: MuxStreamChannel) -> Bool {
        guard self.inReadLoop else { return false }
        self.streamsAwaitingReadComplete.append(stream)
        return true
    }

    /// The application consumed `bytes` of `stream`: grant window back when due.
    func streamConsumed(_ stream: MuxStreamChannel, bytes: Int) {
        let budget = self.machine.receiveWindowGrowthBudget
        guard let update = stream.windowConsumed(bytes, now: self.now, rtt: self.machine.smoothedRTT, budget: budget) else { return }
        self.machine.receiveWindowGrew(by: update.grewBy)
        self.writeControl(.windowUpdate(streamID: stream.streamID, increment: update.increment))
        self.needsFlush()
    }

    func streamClosed(_ stream: MuxStreamChannel) {
        guard self.streams.removeValue(forKey: stream.streamID) != nil else { return }
        _ = self.machine.streamClosed(streamID: stream.streamID, receiveWindowSize: stream.receiveWindow.size)
        self.configuration.observer?.streamEnded(receiveWindow: stream.receiveWindow.size)
        let count = self.streams.count
        self.stats.withLockedValue { $0.openStreams = count }
        self.closeIfDrained()
    }

    /// Lists a stream the machine counted as open.
    func addStream(_ stream: MuxStreamChannel) {
        self.streams[stream.streamID] = stream
        let count = self.streams.count
        self.stats.withLockedValue {
            $0.openStreams = count
            $0.streamsTotal += 1
        }
    }
}
