/// What `RateLimiter.take` decided about one request.
public enum RateDecision: Sendable, Hashable {
    /// Within the limit: serve it.
    case allowed
    /// Over the limit: refuse it (HTTP 429), telling the visitor to retry after this many whole
    /// seconds (rounded up, at least 1: the `Retry-After` header takes whole seconds, and 0 would
    /// invite an immediate retry that fails again).
    case limited(retryAfter: Int)
}
