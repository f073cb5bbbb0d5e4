import NIOCore

/// Frames out: how the session writes its own and its streams' frames, coalesces flushes, follows
/// the transport's writability and sends datagrams. Apart from `MuxSessionHandler.swift` only
/// for size; the state it uses is declared there.
extension MuxSessionHandler {
    // MARK: Writing frames

    /// Flush at once past this many unflushed bytes: about the transport's default high watermark,
    /// so that writability reflects real backpressure, not our own unflushed writes.
    static let eagerFlushThreshold = 64 * 1024

    var transportIsWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    func waitForTransport(_ stream: MuxStreamChannel) {
        guard !stream.isWaitingForTransport else { return }
        stream.isWaitingForTransport = true
        self.waitingForTransport.append(stream)
    }

    func resumeWaitingStreams() {
        var count = self.waitingForTransport.count
        while count > 0, self.transportIsWritable, let stream = self.waitingForTransport.popFirst() {
            count -= 1
            stream.isWaitingForTransport = false
            stream.sendPendingWrites()
        }
    }

    func writeData(streamID: UInt32, payload: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let size = payload.readableBytes
        self.unflushedBytes += size
        self.stats.withLockedValue { $0.bytesOut &+= size }
        if size <= 1024 {
            var buffer = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize + size)
            MuxFrameEncoder.writeHeader(length: size, type: .data, id: streamID, into: &buffer)
            buffer.writeImmutableBuffer(payload)
            context.write(NIOAny(buffer), promise: promise)
        } else {
            var header = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize)
            MuxFrameEncoder.writeHeader(length: size, type: .data, id: streamID, into: &header)
            context.write(NIOAny(header), promise: nil)
            context.write(NIOAny(payload), promise: promise)
        }
    }

    func writeFin(streamID: UInt32, promise: EventLoopPromise<Void>?) {
        self.writeControl(.fin(streamID: streamID), promise: promise)
    }

    func sendReset(streamID: UInt32, code: MuxErrorCode) {
        guard self.admitReactiveFrame() else { return }
        self.writeControl(.reset(streamID: streamID, code: code))
        self.needsFlush()
    }

    /// Flood protection (see `MuxSessionStateMachine.reactiveFrame`) for a frame we write in
    /// answer to the peer (a pong, a RESET). Returns false once the session was closed.
    func admitReactiveFrame() -> Bool {
        guard let context = self.context else { return false }
        switch self.machine.reactiveFrame(transportWritable: context.channel.isWritable) {
        case .send:
            return true
        case .drop:
            return false
        case .closeOnError(let action):
            self.closeOnError(action)
            return false
        }
    }

    /// Marks that frames were written. They are flushed at the end of the current read burst, or
    /// otherwise once at the end of the current event-loop task, so that the frames of many
    /// streams (opens, data, FINs, window updates) written in one tick share one syscall.
    func needsFlush() {
        if self.unflushedBytes >= Self.eagerFlushThreshold {
            // Many bytes queued: flush now so the transport (and a TLS handler, which counts only
            // flushed bytes in its writability) sees them and backpressure stays accurate.
            self.unflushedBytes = 0
            self.flushPending = false
            self.context?.flush()
            return
        }
        if self.inReadLoop {
            self.flushPending = true
            return
        }
        guard !self.flushScheduled, let context = self.context else { return }
        self.flushScheduled = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = loopBound.value
            handler.flushScheduled = false
            handler.unflushedBytes = 0
            handler.context?.flush()
        }
    }

    func writeControl(_ frame: MuxFrame, promise: EventLoopPromise<Void>? = nil) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 32)
        MuxFrameEncoder.write(frame, into: &buffer)
        context.write(NIOAny(buffer), promise: promise)
    }

    // MARK: Datagrams

    /// Sends a datagram unless it is too large or the transport is backed up; never queues.
    @discardableResult
    func sendDatagram(flowID: UInt32, payload: ByteBuffer) -> Bool {
        guard let context = self.context, self.machine.canSendDatagram(size: payload.readableBytes) else {
            self.stats.withLockedValue { $0.droppedDatagrams += 1 }
            return false
        }
        if !context.channel.isWritable, self.unflushedBytes > 0 {
            // Our own unflushed writes may be what makes the transport look full.
            self.unflushedBytes = 0
            context.flush()
        }
        guard context.channel.isWritable else {
            self.stats.withLockedValue { $0.droppedDatagrams += 1 }
            return false
        }
        self.unflushedBytes += payload.readableBytes
        var header = context.channel.allocator.buffer(capacity: MuxProtocol.frameHeaderSize + payload.readableBytes)
        MuxFrameEncoder.writeHeader(length: payload.readableBytes, type: .datagram, id: flowID, into: &header)
        header.writeImmutableBuffer(payload)
        context.write(NIOAny(header), promise: nil)
        self.needsFlush()
        return true
    }
}
