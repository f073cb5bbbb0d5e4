import Foundation

/// A key and its value as etcd holds them, with the revisions that say when it was written.
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    /// The lease the key is attached to (0: none).
    public var lease: Int64

    public init(key: String, value: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }

    init(_ kv: EtcdMessages.KeyValue) {
        key = String(decoding: kv.key ?? Data(), as: UTF8.self)
        value = Array(kv.value ?? Data())
        createRevision = kv.create_revision?.value ?? 0
        modRevision = kv.mod_revision?.value ?? 0
        lease = kv.lease?.value ?? 0
    }
}

/// A change a watch saw.
public struct EtcdEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public var kind: Kind
    /// For a delete, the key and the revision only.
    public var kv: EtcdKeyValue

    public init(kind: Kind, kv: EtcdKeyValue) {
        self.kind = kind
        self.kv = kv
    }
}

/// A prefix as an etcd range: every key that starts with `prefix` is in `[key, rangeEnd)`.
enum EtcdRange {
    static func end(ofPrefix prefix: String) -> Data {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        // Every key (etcd's "\0" range end).
        return Data([0])
    }
}
