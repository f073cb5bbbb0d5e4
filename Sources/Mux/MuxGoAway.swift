/// A GOAWAY a session sent or received: the moment it stopped taking new streams.
///
/// Why the application wants it: a session that is going away still carries its open streams for
/// a while (the drain), so waiting for `closeFuture` is too late to replace it. An agent that
/// learns its relay is going away opens a new session at once and lets the old one finish.
public struct MuxGoAway: Sendable, Hashable {
    /// Which side sent the GOAWAY.
    public enum Origin: Sendable, Hashable {
        /// This side (``MuxSession/goAway(code:reason:)``, or an error close).
        case local
        /// The peer.
        case peer
    }

    public var origin: Origin
    /// `noError` for a drain; anything else means the session closes at once.
    public var code: MuxErrorCode
    /// The sender's reason (UTF-8, possibly empty).
    public var reason: String

    public init(origin: Origin, code: MuxErrorCode, reason: String) {
        self.origin = origin
        self.code = code
        self.reason = reason
    }
}
