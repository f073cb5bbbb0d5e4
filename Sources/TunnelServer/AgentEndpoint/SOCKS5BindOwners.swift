import NIOConcurrencyHelpers

/// Which SOCKS5 user holds each port bound with a private mux-bind command. Sessions of the same
/// user share a port (an agent that reconnects before its old session is noticed gone, or several
/// agents on purpose, as sessions of one tunnel do); another user is refused while any of them
/// holds it. Counted per session, so the port is free again once the last one leaves.
public final class SOCKS5BindOwners: Sendable {
    private let state = NIOLockedValueBox([String: (user: String, sessions: Int)]())

    public init() {}

    /// Takes `key` for `user`; false if another user holds it.
    public func acquire(_ key: String, user: String) -> Bool {
        state.withLockedValue { s in
            if let held = s[key] {
                guard held.user == user else { return false }
                s[key] = (user, held.sessions + 1)
            } else {
                s[key] = (user, 1)
            }
            return true
        }
    }

    /// One session of `key` left.
    public func release(_ key: String) {
        state.withLockedValue { s in
            guard let held = s[key] else { return }
            s[key] = held.sessions > 1 ? (held.user, held.sessions - 1) : nil
        }
    }
}
