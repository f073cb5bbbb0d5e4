import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Shared

/// The session an agent's stream initializer belongs to (set on the loop right after the session
/// is added) and whether its one control stream was already opened.
final class ControlSlot: Sendable {
    private let box = NIOLockedValueBox<(MuxSession?, Bool)>((nil, false))
    var value: MuxSession? {
        get { box.withLockedValue { $0.0 } }
        set { box.withLockedValue { $0.0 = newValue } }
    }
    /// True the first time only: one control stream per session.
    func claimControl() -> Bool {
        box.withLockedValue { s in
            if s.1 { return false }
            s.1 = true
            return true
        }
    }
}
