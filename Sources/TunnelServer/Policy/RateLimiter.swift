import NIOConcurrencyHelpers
import NIOCore

/// Request rate limits per visitor: one token bucket per (rule key, visitor address), refilled at
/// the rule's `RateLimit`. One limiter serves every rule of the relay; the key (a route or tunnel
/// name) keeps their buckets apart, and each call brings its rule's limit.
///
/// A visitor is an IPv4 address or an IPv6 /64: one IPv6 host is given a whole /64 and may use
/// any address in it, so counting single IPv6 addresses would limit nothing (as
/// `ConnectionLimiter.sourceKey`). An IPv4-mapped IPv6 address is its IPv4 address. Visitors of
/// unknown address share one bucket per key.
///
/// Memory is bounded: at most `capacity` buckets in all. When a shard is full, the buckets that
/// have refilled completely are dropped first (forgetting them changes nothing: a new bucket starts
/// full); if that frees less than an eighth of the shard, the least recently used buckets go too
/// (those visitors get a fresh burst, the price of a flood of addresses). The sweep frees many
/// slots at once, so its cost is spread over the insertions that follow.
///
/// The state is sharded by visitor, each shard under its own lock, so concurrent event loops rarely
/// wait on each other; a `take` is a dictionary lookup and a few floating-point operations.
public final class RateLimiter: Sendable {
    /// The bound on buckets unless told otherwise (about 100 bytes each).
    public static let defaultCapacity = 100_000

    struct Key: Hashable {
        var rule: String
        /// The visitor (IPv4, or IPv6 masked to /64); nil when unknown.
        var visitor: IPRange.Bits?
    }

    struct Bucket {
        var tokens: Double
        /// Nanoseconds (NIODeadline's uptime) when `tokens` was last brought up to date.
        var updated: Int64
        var burst: Double
        /// The rate as `requests` per `period` nanoseconds (kept apart, not divided, so whole
        /// periods give whole tokens without rounding).
        var requests: Double
        var period: Double

        /// Tokens gained in `nanoseconds`.
        func gained(_ nanoseconds: Int64) -> Double {
            Double(max(0, nanoseconds)) * requests / period
        }

        /// Brings the tokens up to `now` (never above the burst).
        mutating func refill(_ now: Int64) {
            if now > updated {
                tokens = min(burst, tokens + gained(now - updated))
                updated = now
            }
        }

        /// Whether the bucket would be full at `now` (then it can be forgotten).
        func isFull(at now: Int64) -> Bool {
            tokens + gained(now - updated) >= burst
        }
    }

    struct Shard {
        var buckets: [Key: Bucket] = [:]
    }

    private let shards: [NIOLockedValueBox<Shard>]
    private let shardCapacity: Int
    /// The bound on buckets in all (the shards' bounds added).
    public var capacity: Int { shardCapacity * shards.count }

    /// - Parameters:
    ///   - capacity: the most buckets held at once (at least one per shard).
    ///   - shards: how many independently locked parts the table is split into.
    public init(capacity: Int = RateLimiter.defaultCapacity, shards: Int = 16) {
        let shardCount = max(1, min(shards, capacity))
        self.shards = (0..<shardCount).map { _ in NIOLockedValueBox(Shard()) }
        self.shardCapacity = max(1, capacity / shardCount)
    }

    /// Counts one request of a visitor from `address` under the rule `key`, limited to `limit`.
    /// A refused request costs nothing (a visitor retrying too early does not push its own retry
    /// further away).
    public func take(key: String, limit: RateLimit, address: SocketAddress?, now: NIODeadline = .now()) -> RateDecision {
        let visitor = address.flatMap(IPRange.Bits.init).map(Self.visitor)
        let key = Key(rule: key, visitor: visitor)
        let index = Int(truncatingIfNeeded: UInt(bitPattern: visitorHash(visitor)) % UInt(shards.count))
        let nanos = now.uptimeNanoseconds > UInt64(Int64.max) ? Int64.max : Int64(now.uptimeNanoseconds)
        let burst = Double(limit.burst)
        let requests = Double(limit.requests)
        let period = Double(limit.per.nanoseconds)
        let capacity = shardCapacity
        return shards[index].withLockedValue { shard in
            var bucket: Bucket
            if let existing = shard.buckets[key] {
                bucket = existing
                bucket.burst = burst  // the rule's limit may have been reloaded
                bucket.requests = requests
                bucket.period = period
                bucket.refill(nanos)
            } else {
                if shard.buckets.count >= capacity { Self.evict(&shard, capacity: capacity, now: nanos) }
                bucket = Bucket(tokens: burst, updated: nanos, burst: burst, requests: requests, period: period)
            }
            let decision: RateDecision
            // The tolerances absorb floating-point dust (a token due now must not be a second away).
            if bucket.tokens >= 1 - 1e-9 {
                bucket.tokens = max(0, bucket.tokens - 1)
                decision = .allowed
            } else {
                let seconds = (1 - bucket.tokens) * period / requests / 1e9
                decision = .limited(retryAfter: max(1, Int((seconds - 1e-6).rounded(.up))))
            }
            shard.buckets[key] = bucket
            return decision
        }
    }

    /// How many buckets are held now (for tests and diagnostics).
    public var count: Int {
        shards.reduce(0) { sum, shard in sum + shard.withLockedValue { $0.buckets.count } }
    }

    /// The visitor an address counts as: IPv4 whole, IPv6 as its /64.
    static func visitor(_ bits: IPRange.Bits) -> IPRange.Bits {
        bits.isV4 ? bits : IPRange.Bits(hi: bits.hi, lo: 0)
    }

    private func visitorHash(_ visitor: IPRange.Bits?) -> Int {
        guard let visitor else { return 0 }
        // A cheap mix of the bits (no per-process seed needed: only the spread matters).
        let x = (visitor.hi ^ visitor.lo) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: x ^ (x >> 29))
    }

    /// Makes room in a full shard: full buckets first, then the least recently used, until an
    /// eighth of the shard is free.
    static func evict(_ shard: inout Shard, capacity: Int, now: Int64) {
        let target = capacity - max(1, capacity / 8)
        shard.buckets = shard.buckets.filter { !$0.value.isFull(at: now) }
        guard shard.buckets.count > target else { return }
        let oldest = shard.buckets.sorted { $0.value.updated < $1.value.updated }.prefix(shard.buckets.count - target)
        for (key, _) in oldest { shard.buckets[key] = nil }
    }
}
