/// The pool of anti-replay nonces (RFC 8555 §6.5): every response may carry a fresh `Replay-Nonce`,
/// and each signed request consumes one. Keeping the spares saves a `newNonce` round trip per request.
///
/// Bounded: a server (or a proxy) that sends a nonce on every response must not grow the pool without
/// limit, and values that are not base64url or are absurdly long are refused (§6.5.1).
public struct ACMENonces: Sendable {
    public static let maximumNonceLength = 256

    public let capacity: Int
    private var nonces: [String] = []

    public init(capacity: Int = 16) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { nonces.count }

    /// Stores a nonce from a `Replay-Nonce` header; returns false when the value is not a valid nonce.
    /// When full, the oldest nonce is dropped: the newest is the least likely to have expired.
    @discardableResult
    public mutating func add(_ nonce: String) -> Bool {
        guard Self.isValid(nonce) else { return false }
        if nonces.count >= capacity { nonces.removeFirst() }
        nonces.append(nonce)
        return true
    }

    /// Takes the newest nonce, or nil when the pool is empty (then the client asks `newNonce`).
    public mutating func take() -> String? {
        nonces.popLast()
    }

    public mutating func removeAll() {
        nonces.removeAll()
    }

    static func isValid(_ nonce: String) -> Bool {
        guard !nonce.isEmpty, nonce.utf8.count <= maximumNonceLength else { return false }
        return nonce.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }
    }
}
