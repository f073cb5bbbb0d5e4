/// A failed call to etcd: which call, on which endpoint, and why (etcd's own message when it
/// answered one, else the transport's).
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No endpoint could be reached (or none answered in time).
        case unavailable
        /// etcd answered with an error (`code` is its gRPC status code).
        case refused(code: Int)
        /// The answer was not what the gateway writes.
        case malformed
        /// A watch was cancelled by etcd (compaction passed its revision, or it was dropped).
        case watchCanceled
    }

    public var kind: Kind
    /// The gateway path of the call (`/v3/kv/range`).
    public var call: String
    public var reason: String

    public init(_ kind: Kind, call: String, reason: String) {
        self.kind = kind
        self.call = call
        self.reason = reason
    }

    public var description: String { "etcd \(call): \(reason)" }

    /// gRPC's NOT_FOUND, what etcd answers for a lease that expired or never was.
    public var isNotFound: Bool { kind == .refused(code: 5) }
}
