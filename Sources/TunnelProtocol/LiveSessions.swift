import Mux
import NIOConcurrencyHelpers
import NIOCore

/// A set of live Mux sessions; a session leaves it when it ends.
///
/// On the relay: every agent session, registered or not, so they can all be drained at once (a
/// GOAWAY on each makes its agent open a replacement session while the old one finishes the
/// streams it carries), on SIGHUP and at graceful shutdown. On the agent: the sessions of a slot
/// that the relay is draining, so stopping the agent closes them too.
public final class LiveSessions: Sendable {
    private let sessions = NIOLockedValueBox<[ObjectIdentifier: MuxSession]>([:])

    public init() {}

    /// Sessions alive now.
    public var count: Int { sessions.withLockedValue { $0.count } }

    /// The sessions alive now, for snapshots.
    public var all: [MuxSession] { sessions.withLockedValue { Array($0.values) } }

    /// Tracks `session` until it ends.
    public func add(_ session: MuxSession) {
        let key = ObjectIdentifier(session)
        sessions.withLockedValue { $0[key] = session }
        session.closeFuture.whenComplete { _ in
            self.sessions.withLockedValue { $0[key] = nil }
        }
    }

    /// Sends GOAWAY (no error) on every live session; returns how many. Each session stops
    /// taking new streams and closes once its open streams have finished.
    @discardableResult
    public func goAwayAll(reason: String) -> Int {
        let all = self.all
        for session in all { session.goAway(reason: reason) }
        return all.count
    }

    /// Closes every session at once (their streams end).
    public func closeAll() {
        let all = self.all
        for session in all { _ = session.close() }
    }

    /// Goes away on every session, then waits until they have all ended or `timeout` has passed,
    /// and closes whatever is left. Returns how many sessions had to be cut.
    public func drain(reason: String, timeout: Duration) async -> Int {
        goAwayAll(reason: reason)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = all
        for session in left { _ = session.close() }
        return left.count
    }
}
