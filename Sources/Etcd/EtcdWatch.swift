import AsyncHTTPClient
import NIOCore

/// What one watch answer carried: the store's revision and the changes up to it (empty for a
/// progress notice, which only moves the revision on).
public struct EtcdWatchBatch: Sendable, Equatable {
    public var revision: Int64
    public var events: [EtcdEvent]

    public init(revision: Int64, events: [EtcdEvent]) {
        self.revision = revision
        self.events = events
    }
}

/// A live watch: batches are read as etcd sends them, one at a time, so a slow reader holds the
/// stream back rather than piling events up in memory. Owned by one task.
public struct EtcdWatch {
    private var body: HTTPClientResponse.Body.AsyncIterator
    private var decoder = EtcdWatchDecoder()
    private var ready: [EtcdMessages.WatchResponse] = []

    init(body: HTTPClientResponse.Body) {
        self.body = body.makeAsyncIterator()
    }

    /// The next batch; nil when etcd closed the stream.
    public mutating func next() async throws -> EtcdWatchBatch? {
        while true {
            if !ready.isEmpty {
                let response = ready.removeFirst()
                if let error = response.error {
                    throw EtcdError(.refused(code: error.code ?? -1), call: "/v3/watch", reason: error.message ?? error.error ?? "watch failed")
                }
                guard let result = response.result else { continue }
                if result.canceled == true {
                    let why = result.compact_revision.map { "compacted up to revision \($0.value)" } ?? result.cancel_reason ?? "canceled by etcd"
                    throw EtcdError(.watchCanceled, call: "/v3/watch", reason: why)
                }
                if result.created == true && (result.events ?? []).isEmpty { continue }
                let events = (result.events ?? []).map { e in
                    EtcdEvent(kind: e.type == "DELETE" ? .delete : .put, kv: e.kv.map(EtcdKeyValue.init) ?? EtcdKeyValue(key: "", value: []))
                }
                return EtcdWatchBatch(revision: result.header?.revision?.value ?? 0, events: events)
            }
            guard let chunk = try await body.next() else { return nil }
            ready = try decoder.feed(chunk)
        }
    }
}
