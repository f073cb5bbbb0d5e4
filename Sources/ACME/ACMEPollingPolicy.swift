import Foundation

/// How long and how often the client polls authorizations and orders (RFC 8555 §7.5.1, §7.4).
///
/// Every poll loop is bounded twice, by attempts and by elapsed time, so a server that never leaves
/// `pending` or `processing` cannot hold an issuance forever. The server's `Retry-After` is honoured
/// but capped: a server asking for an hour's pause would otherwise stall the caller past its deadline.
public struct ACMEPollingPolicy: Sendable, Hashable {
    public var maximumAttempts: Int
    public var maximumDuration: Duration
    /// The pause when the server sends no `Retry-After`; it grows linearly with the attempt number.
    public var defaultInterval: Duration
    /// The longest single pause, whatever `Retry-After` says.
    public var maximumInterval: Duration

    public init(
        maximumAttempts: Int = 60,
        maximumDuration: Duration = .seconds(180),
        defaultInterval: Duration = .seconds(1),
        maximumInterval: Duration = .seconds(10)
    ) {
        self.maximumAttempts = maximumAttempts
        self.maximumDuration = maximumDuration
        self.defaultInterval = defaultInterval
        self.maximumInterval = maximumInterval
    }

    /// The pause before the next poll after `attempt` polls (1-based) and `elapsed` time, or nil when
    /// the budget is spent and the caller must give up.
    public func delay(afterAttempt attempt: Int, elapsed: Duration, retryAfter: Duration?) -> Duration? {
        guard attempt < maximumAttempts else { return nil }
        var pause = retryAfter ?? defaultInterval * max(1, attempt)
        if pause > maximumInterval { pause = maximumInterval }
        if pause < .zero { pause = .zero }
        guard elapsed + pause <= maximumDuration else { return nil }
        return pause
    }

    /// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Nil when absent
    /// or unparsable; a date in the past is a zero pause.
    public static func parseRetryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty, value.utf8.count <= 64 else {
            return nil
        }
        if let seconds = Int64(value) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        let seconds = date.timeIntervalSince(now)
        return seconds > 0 ? .milliseconds(Int64(seconds * 1000)) : .zero
    }
}
