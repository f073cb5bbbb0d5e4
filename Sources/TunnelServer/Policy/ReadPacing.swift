import NIOCore

/// Bandwidth pacing for a handler that decides its own reads (the HTTP ingresses): what it sends
/// on to the tunnel is spent from the tunnel's budgets, and while they are in debt its next read
/// of the visitor is put off. `BandwidthPacer` does the same for a whole channel; here the budgets
/// change with the request (a keep-alive connection may reach several tunnels), so the handler
/// keeps this value and swaps the budgets when its stream changes.
struct ReadPacing {
    /// The budgets of the tunnel the visitor's bytes go to now (none: unpaced).
    var budgets: [BandwidthBudget] = []
    /// Until when the next read waits.
    private(set) var resumeAt: NIODeadline?

    /// `bytes` went on to the tunnel.
    mutating func spent(_ bytes: Int, now: NIODeadline) {
        for budget in budgets {
            let pause = budget.spend(bytes, now: now)
            if pause > .zero { resumeAt = max(resumeAt ?? now + pause, now + pause) }
        }
    }

    /// The wake-up of a read put off.
    private(set) var scheduled: Scheduled<Void>?

    /// Whether a read asked for now may happen; if not, `wake` runs on `loop` once it may (one
    /// wake-up stands for every read asked for meanwhile; call `woke()` in it).
    mutating func mayRead(now: NIODeadline, on loop: EventLoop, wake: @escaping @Sendable () -> Void) -> Bool {
        if scheduled != nil { return false }
        guard let at = readDeadline(now: now) else { return true }
        scheduled = loop.scheduleTask(deadline: at, wake)
        return false
    }

    mutating func woke() {
        scheduled = nil
    }

    /// The handler leaves: no wake-up.
    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
    }

    /// When a read asked for now may happen: nil at once, else the deadline to wait for.
    mutating func readDeadline(now: NIODeadline) -> NIODeadline? {
        guard let at = resumeAt, at > now else {
            resumeAt = nil
            return nil
        }
        return at
    }
}
