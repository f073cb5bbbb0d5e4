import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The request inspector: the last requests of each tunnel, heads (and bodies up to a limit when
/// asked), in a bounded ring in memory, for `GET /api/requests`, the dashboard and replay.
///
/// Bounded three ways: `perTunnel` records per tunnel, `maxTunnels` tunnels (the one whose
/// newest record is oldest makes room), and each record's heads are those the ingress already
/// bounds (`HTTPFraming.maxHead`) plus at most `bodyLimit` bytes of each body. Recording is one
/// short critical section per answered request.
public final class RequestInspector: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Requests kept per tunnel (0: the inspector is off).
        public var perTunnel: Int
        /// Bytes of each body kept (0: no bodies, the default: bodies may hold secrets).
        public var bodyLimit: Int
        /// Tunnels with a ring at once.
        public var maxTunnels: Int
        /// Tunnels never recorded (sensitive ones).
        public var excluded: Set<String>

        public init(perTunnel: Int = 100, bodyLimit: Int = 0, maxTunnels: Int = 100, excluded: Set<String> = []) {
            self.perTunnel = perTunnel
            self.bodyLimit = bodyLimit
            self.maxTunnels = maxTunnels
            self.excluded = excluded
        }
    }

    private struct State {
        var rings: [String: CircularBuffer<InspectedRequest>] = [:]
        var newest: [String: Int] = [:]
        var nextID = 1
    }

    public let settings: Settings
    private let state = NIOLockedValueBox(State())
    /// Off until something can show the records (the admin API starts): nothing is kept for
    /// no one.
    private let enabled = NIOLockedValueBox(false)

    /// Starts keeping requests.
    public func enable() {
        enabled.withLockedValue { $0 = settings.perTunnel > 0 }
    }

    public var isEnabled: Bool { enabled.withLockedValue { $0 } }

    public init(settings: Settings) {
        self.settings = settings
    }

    /// What the ingress keeps of each request of `tunnel`; nil: this tunnel is not recorded.
    package func capture(for tunnel: String) -> HTTPExchange.Capture? {
        settings.excluded.contains(tunnel) ? nil : HTTPExchange.Capture(heads: true, bodyLimit: settings.bodyLimit)
    }

    /// The capture every request starts with (the tunnel is known only once routed).
    package var defaultCapture: HTTPExchange.Capture { HTTPExchange.Capture(heads: true, bodyLimit: settings.bodyLimit) }

    /// Keeps `exchange`, answered at `finished`; returns the record.
    @discardableResult
    package func record(_ exchange: HTTPExchange, client: String?, finished: NIODeadline, replayOf: String? = nil) -> InspectedRequest? {
        guard isEnabled, !settings.excluded.contains(exchange.tunnel) else { return nil }
        let elapsed = finished - exchange.started
        let started = Date().addingTimeInterval(-Double(max(0, elapsed.nanoseconds)) / 1e9)
        var record = InspectedRequest(
            id: "", tunnel: exchange.tunnel, method: exchange.method, host: exchange.host, path: exchange.target, protocol: exchange.proto,
            status: exchange.status, durationMilliseconds: Double(max(0, elapsed.nanoseconds)) / 1e6, requestBytes: exchange.requestBytes,
            responseBytes: exchange.responseBytes, client: client, startedAt: started,
            requestHeaders: exchange.requestHeaders,
            responseHeaders: exchange.responseHeaders,
            requestBody: exchange.requestBody.map { Data($0.readableBytesView) }, requestBodyTruncated: exchange.requestBodyTruncated,
            responseBody: exchange.responseBody.map { Data($0.readableBytesView) }, responseBodyTruncated: exchange.responseBodyTruncated,
            replayOf: replayOf)
        let limit = settings.perTunnel
        let maxTunnels = settings.maxTunnels
        state.withLockedValue { state in
            record.id = "r\(state.nextID)"
            let serial = state.nextID
            state.nextID += 1
            if state.rings[record.tunnel] == nil, state.rings.count >= maxTunnels, let stalest = state.newest.min(by: { $0.value < $1.value })?.key {
                state.rings[stalest] = nil
                state.newest[stalest] = nil
            }
            var ring = state.rings.removeValue(forKey: record.tunnel) ?? CircularBuffer(initialCapacity: min(limit, 16))
            if ring.count >= limit { _ = ring.popFirst() }
            ring.append(record)
            state.rings[record.tunnel] = ring
            state.newest[record.tunnel] = serial
        }
        return record
    }

    /// The newest `limit` records (of `tunnel`, or of every tunnel), newest first.
    public func list(tunnel: String? = nil, limit: Int = 100) -> [InspectedRequest] {
        let all: [InspectedRequest] = state.withLockedValue { state in
            if let tunnel { return Array(state.rings[tunnel] ?? []) }
            return state.rings.values.flatMap { $0 }
        }
        return Array(all.sorted { Self.serial($0.id) > Self.serial($1.id) }.prefix(max(0, limit)))
    }

    /// The record `id`, if still kept.
    public func request(id: String) -> InspectedRequest? {
        state.withLockedValue { state in
            for ring in state.rings.values {
                if let found = ring.first(where: { $0.id == id }) { return found }
            }
            return nil
        }
    }

    /// Records kept now and roughly what they hold, in bytes.
    public var usage: (records: Int, bytes: Int) {
        state.withLockedValue { state in
            state.rings.values.reduce((0, 0)) { acc, ring in (acc.0 + ring.count, acc.1 + ring.reduce(0) { $0 + $1.footprint }) }
        }
    }

    package static func serial(_ id: String) -> Int { Int(id.dropFirst()) ?? 0 }
}
