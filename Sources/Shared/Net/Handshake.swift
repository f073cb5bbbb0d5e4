import NIOCore

/// The async face of a connection during its handshake: parse what the peer sent, write replies,
/// and finally splice the connection to its partner once the protocol has picked a target.
///
/// Handlers and connectors are written as straight-line async code with this type, while the
/// data path afterwards runs entirely in channel handlers (`GlueHandler`), never per chunk in a task.
public struct Handshake: Sendable {
    public let channel: Channel
    private let reader: NIOLoopBound<HandshakeReader>

    /// Wraps a reader that a channel initializer already installed.
    public init(channel: Channel, reader: HandshakeReader) {
        self.channel = channel
        self.reader = NIOLoopBound(reader, eventLoop: channel.eventLoop)
    }

    /// Waits until `parser` can produce a value from the bytes received so far.
    /// The parser returns `nil` while more bytes are needed; what it reads is consumed.
    public func read<R: Sendable>(_ parser: @escaping @Sendable (inout ByteBuffer) throws -> R?) async throws -> R {
        let promise = channel.eventLoop.makePromise(of: R.self)
        channel.eventLoop.execute {
            self.reader.value.parse(parser, promise: promise)
        }
        return try await promise.futureResult.get()
    }

    /// Reads exactly `count` bytes.
    public func readBytes(_ count: Int) async throws -> [UInt8] {
        try await read { buffer in buffer.readBytes(length: count) }
    }

    public func write(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    public func write(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer).get()
    }

    public func write(_ string: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: string)).get()
    }

    /// Removes the reader; bytes that arrived after the handshake go to the next handler.
    public func finish() async throws {
        let reader = self.reader
        try await channel.eventLoop.flatSubmit {
            channel.pipeline.syncOperations.removeHandler(reader.value)
        }.get()
    }

    /// Joins this connection to `partner` (both on the same event loop), passing on the bytes each
    /// buffered during its handshake, then leaves the data path to NIO.
    public func splice(with partner: Handshake) async throws {
        let channel = self.channel
        let other = partner.channel
        let reader = self.reader
        let otherReader = partner.reader
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                try GlueHandler.join(channel, other)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            let own = channel.pipeline.syncOperations.removeHandler(reader.value)
            return own.and(other.pipeline.syncOperations.removeHandler(otherReader.value)).map { _ in }
        }.get()
    }

    /// Joins this connection to a channel that has no handshake of its own (a Mux stream, say),
    /// possibly on another event loop; bytes buffered here go to the partner first.
    public func splice(withChannel partner: Channel) async throws {
        let channel = self.channel
        let reader = self.reader
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                try GlueHandler.join(channel, partner)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return channel.pipeline.syncOperations.removeHandler(reader.value)
        }.get()
    }

    /// Hands the connection to the protocol that follows the handshake: on the loop, `install`
    /// adds its handlers (`reader` is given so they can go right after it), the connection reads
    /// on its own again (autoRead may have been off while the handshake was read), and the reader
    /// goes, passing what it buffered to the new handlers.
    public func handOver(_ install: @escaping @Sendable (_ channel: Channel, _ reader: HandshakeReader) throws -> Void) async throws {
        let channel = self.channel
        let reader = self.reader
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                try install(channel, reader.value)
                try channel.resumeAutoRead()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return channel.pipeline.syncOperations.removeHandler(reader.value).map { channel.read() }
        }.get()
    }

    /// The reader, to remove on the loop once the protocol that follows the handshake is installed.
    public var readerForLoop: NIOLoopBound<HandshakeReader> { reader }

    /// The reader, for code already running on the event loop.
    var readerOnLoop: HandshakeReader { reader.value }

    /// Closes the connection, ignoring errors (used after an error reply).
    public func close() {
        channel.close(promise: nil)
    }
}
