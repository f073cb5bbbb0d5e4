import NIOCore

/// Read buffers kept alive by payloads that wait for a reader, each counted once however many
/// payloads share it.
///
/// Why: payloads are slices of the transport's reads (a TLS handler's plaintext buffers, up to
/// 2 MiB), so what a waiting payload costs is its whole read buffer, and payloads of one read
/// (of one stream or of several) share it. Counting each buffer once gives the memory actually
/// held, which the session and each stream bound (see `MuxConfiguration`).
struct MuxPinnedBuffers {
    private var counts: [UInt: Int] = [:]
    /// The total capacity of the buffers counted.
    private(set) var capacity = 0

    /// Whether counting `slice` keeps the total within `limit` (a buffer already counted fits).
    func fits(_ slice: ByteBuffer, limit: Int) -> Bool {
        self.counts[Self.identity(of: slice)] != nil || self.capacity + slice.storageCapacity <= limit
    }

    mutating func pin(_ slice: ByteBuffer) {
        let id = Self.identity(of: slice)
        if let count = self.counts[id] {
            self.counts[id] = count + 1
        } else {
            self.counts[id] = 1
            self.capacity += slice.storageCapacity
        }
    }

    /// A payload counted by `pin` was delivered or dropped.
    mutating func unpin(_ slice: ByteBuffer) {
        let id = Self.identity(of: slice)
        guard let count = self.counts[id] else { return }
        if count > 1 {
            self.counts[id] = count - 1
        } else {
            self.counts[id] = nil
            self.capacity -= slice.storageCapacity
        }
    }

    /// The identity of a buffer's storage: the same for every slice of one read buffer, and
    /// unique while any of them is alive.
    private static func identity(of buffer: ByteBuffer) -> UInt {
        buffer.withVeryUnsafeBytesWithStorageManagement { _, storage in UInt(bitPattern: storage.toOpaque()) }
    }
}
