import NIOCore

/// Turns the transport's reads into frames without copying payloads.
///
/// Why not `NIOSingleStepByteToMessageProcessor`: it appends every read to what is left of the
/// previous one and compacts its buffer as it goes, so a frame split across two reads costs a copy
/// of the whole second read, and compaction copies again whenever earlier payload slices still
/// share the buffer. Under bulk transfer that was a quarter of the agent's CPU (perf: `memmove`
/// from `append` and `discardReadBytes`). Here DATA payloads are streamed (see
/// `MuxFrameDecoder.streamsData`) as slices of the reads themselves, and only an incomplete
/// header or non-DATA frame is carried over, topped up with exactly the bytes it lacks.
///
/// Memory: the carry never holds more than one frame (`maxFrameSize` plus a header), since the
/// decoder rejects a larger length before any payload is read.
struct MuxFrameReader {
    private(set) var decoder: MuxFrameDecoder
    /// The start of a frame (or preface) that the previous reads did not complete.
    private var carry = ByteBuffer()

    init(maxFrameSize: Int) {
        self.decoder = MuxFrameDecoder(maxFrameSize: maxFrameSize, streamsData: true)
    }

    /// Bytes kept from earlier reads, waiting for the rest of their frame.
    var carriedBytes: Int { self.carry.readableBytes }

    /// Decodes every frame `input` completes or contains, in order.
    mutating func read(_ input: ByteBuffer, _ receive: (MuxFrame) throws -> Void) throws {
        var input = input
        // First finish the carried frame, moving over only the bytes it still needs.
        while self.carry.readableBytes > 0 {
            if let frame = try self.decoder.decode(buffer: &self.carry) {
                try receive(frame)
                continue
            }
            guard self.carry.readableBytes > 0 else { break }  // a DATA header, now streaming
            guard input.readableBytes > 0 else { return }
            var piece = input.readSlice(length: min(self.decoder.bytesWanted(self.carry), input.readableBytes))!
            self.carry.writeBuffer(&piece)
        }
        while let frame = try self.decoder.decode(buffer: &input) {
            try receive(frame)
        }
        if input.readableBytes > 0 {
            // Less than a frame: keep a copy sized for the whole frame, so that the read buffer
            // it came from is not kept alive and topping it up does not reallocate.
            var carry = ByteBuffer()
            carry.reserveCapacity(input.readableBytes + self.decoder.bytesWanted(input))
            carry.writeBuffer(&input)
            self.carry = carry
        } else {
            // Not `clear()`: frames decoded from the carry may still share its storage, and
            // clearing would copy it to keep them intact.
            self.carry = ByteBuffer()
        }
    }
}
