import Mux
import NIOConcurrencyHelpers
import NIOCore
import Foundation

/// A set of live Mux sessions; a session leaves it when it ends.
///
/// On the relay: every agent session, registered or not, so they can all be drained at once (a
/// GOAWAY on each makes its agent open a replacement session while the old one finishes the
/// streams it carries), on SIGHUP and at graceful shutdown. On the agent: the sessions of a slot
/// that the relay is draining, so stopping the agent closes them too.
public final class LiveSessions: Sendable {
    /// What is known of a session beyond the Mux (for the admin API and the status command).
    public struct Info: Sendable, Equatable {
        /// Short and unique for the process's life (`s1`, `s2`, …): what the API revokes by.
        public var id: String
        public var connectedAt: Date
        /// The software the peer said it runs (`tunnel-agent 0.15.0`), once it has said.
        public var software: String?
        /// Who the peer's token names (a token's name or fingerprint), once registered.
        public var principal: String?
        /// The tunnels it registered.
        public var tunnels: [String] = []
    }

    private struct Entry {
        var session: MuxSession
        var info: Info
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var nextID = 1
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Sessions alive now.
    public var count: Int { state.withLockedValue { $0.entries.count } }

    /// The sessions alive now, for snapshots.
    public var all: [MuxSession] { state.withLockedValue { $0.entries.values.map(\.session) } }

    /// The sessions alive now with what is known of them, oldest first.
    public var described: [(session: MuxSession, info: Info)] {
        state.withLockedValue { $0.entries.values.map { ($0.session, $0.info) } }.sorted { Int($0.info.id.dropFirst()) ?? 0 < Int($1.info.id.dropFirst()) ?? 0 }
    }

    /// The live session with this ID.
    public func session(id: String) -> MuxSession? {
        state.withLockedValue { $0.entries.values.first { $0.info.id == id }?.session }
    }

    /// Tracks `session` until it ends.
    public func add(_ session: MuxSession) {
        let key = ObjectIdentifier(session)
        state.withLockedValue {
            $0.entries[key] = Entry(session: session, info: Info(id: "s\($0.nextID)", connectedAt: Date()))
            $0.nextID += 1
        }
        session.closeFuture.whenComplete { _ in
            self.state.withLockedValue { $0.entries[key] = nil }
        }
    }

    /// Records what `session` said of itself when it registered.
    public func describe(_ session: MuxSession, _ change: (inout Info) -> Void) {
        let key = ObjectIdentifier(session)
        state.withLockedValue { if $0.entries[key] != nil { change(&$0.entries[key]!.info) } }
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
