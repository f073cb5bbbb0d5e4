import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// A client for etcd's v3 API through its JSON gateway (`/v3/...`, served on every client port of
/// etcd 3.4 and later), on async-http-client.
///
/// Why the gateway rather than gRPC: none of the listed packages speaks gRPC, and the gateway
/// carries every call the cluster needs (ranges, puts, transactions, leases, watches) over the
/// HTTP client the relay already has. Keys here are strings (the relay's keys are paths), values
/// bytes. A call that cannot reach an endpoint (or times out) is tried on the next one; an
/// answer from etcd, even an error, is final.
public final class EtcdClient: Sendable {
    public let configuration: EtcdConfiguration
    private let unary: HTTPClient
    /// Watches stream for as long as they live: no read timeout.
    private let streaming: HTTPClient
    private let endpoints: [String]
    private let preferred = NIOLockedValueBox(0)
    private let logger: Logger
    /// The most a unary answer may hold (a range over every tunnel of a large cluster fits).
    static let maxAnswer = 32 << 20

    public init(_ configuration: EtcdConfiguration, logger: Logger = Logger(label: "etcd")) throws {
        guard !configuration.endpoints.isEmpty else {
            throw EtcdError(.unavailable, call: "-", reason: "no etcd endpoint given")
        }
        self.configuration = configuration
        self.logger = logger
        endpoints = configuration.endpoints.map(Self.normalized)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = configuration.caFile { tls.additionalTrustRoots = [.file(ca)] }
        if let cert = configuration.certFile, let key = configuration.keyFile {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        var unaryConfig = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        unaryConfig.timeout = .init(connect: .seconds(1), read: .seconds(10))
        var streamingConfig = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        streamingConfig.timeout = .init(connect: .seconds(1), read: nil)
        unary = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: unaryConfig)
        streaming = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: streamingConfig)
    }

    /// `host:port` without a scheme means plain HTTP (etcd's default).
    static func normalized(_ endpoint: String) -> String {
        var e = endpoint.trimmingCharacters(in: .whitespaces)
        if !e.contains("://") { e = "http://" + e }
        while e.hasSuffix("/") { e.removeLast() }
        return e
    }

    public func shutdown() async throws {
        try await unary.shutdown()
        try await streaming.shutdown()
    }

    // MARK: Keys

    /// The value of `key`, nil when there is none.
    public func get(_ key: String) async throws -> EtcdKeyValue? {
        let r: EtcdMessages.RangeResponse = try await call("/v3/kv/range", EtcdMessages.RangeRequest(key: Data(key.utf8)))
        return r.kvs?.first.map(EtcdKeyValue.init)
    }

    /// Every key under `prefix`, and the store's revision they were read at (where a watch that
    /// misses nothing starts: `revision + 1`).
    public func list(prefix: String) async throws -> (kvs: [EtcdKeyValue], revision: Int64) {
        let r: EtcdMessages.RangeResponse = try await call(
            "/v3/kv/range", EtcdMessages.RangeRequest(key: Data(prefix.utf8), range_end: EtcdRange.end(ofPrefix: prefix)))
        return ((r.kvs ?? []).map(EtcdKeyValue.init), r.header?.revision?.value ?? 0)
    }

    /// Writes `value` at `key` (attached to `lease` unless 0); the revision it was written at.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) async throws -> Int64 {
        let r: EtcdMessages.PutResponse = try await call(
            "/v3/kv/put", EtcdMessages.PutRequest(key: Data(key.utf8), value: Data(value), lease: lease == 0 ? nil : EtcdInt(lease)))
        return r.header?.revision?.value ?? 0
    }

    /// Removes `key`; how many keys went (0 or 1).
    @discardableResult
    public func delete(_ key: String) async throws -> Int {
        let r: EtcdMessages.DeleteRangeResponse = try await call("/v3/kv/deleterange", EtcdMessages.DeleteRangeRequest(key: Data(key.utf8)))
        return Int(r.deleted?.value ?? 0)
    }

    /// Removes every key under `prefix`.
    @discardableResult
    public func delete(prefix: String) async throws -> Int {
        let r: EtcdMessages.DeleteRangeResponse = try await call(
            "/v3/kv/deleterange", EtcdMessages.DeleteRangeRequest(key: Data(prefix.utf8), range_end: EtcdRange.end(ofPrefix: prefix)))
        return Int(r.deleted?.value ?? 0)
    }

    /// Writes `value` at `key` only if the key does not exist, in one transaction: nil when this
    /// call created it, else what is there (whoever wrote first wins, once, cluster-wide).
    public func create(_ key: String, _ value: [UInt8], lease: Int64 = 0) async throws -> EtcdKeyValue? {
        let k = Data(key.utf8)
        let request = EtcdMessages.TxnRequest(
            compare: [.init(result: "EQUAL", target: "CREATE", key: k, create_revision: 0)],
            success: [.init(request_put: .init(key: k, value: Data(value), lease: lease == 0 ? nil : EtcdInt(lease)))],
            failure: [.init(request_range: .init(key: k))])
        let r: EtcdMessages.TxnResponse = try await call("/v3/kv/txn", request)
        if r.succeeded == true { return nil }
        guard let kv = r.responses?.first?.response_range?.kvs?.first else {
            // Deleted between the compare and the range: as good as absent, but not ours.
            throw EtcdError(.malformed, call: "/v3/kv/txn", reason: "\(key) exists but could not be read")
        }
        return EtcdKeyValue(kv)
    }

    /// Replaces `key`'s value only if it is still at `modRevision` (compare-and-swap): whether it was.
    public func replace(_ key: String, _ value: [UInt8], ifModRevision modRevision: Int64, lease: Int64 = 0) async throws -> Bool {
        let k = Data(key.utf8)
        let request = EtcdMessages.TxnRequest(
            compare: [.init(result: "EQUAL", target: "MOD", key: k, mod_revision: EtcdInt(modRevision))],
            success: [.init(request_put: .init(key: k, value: Data(value), lease: lease == 0 ? nil : EtcdInt(lease)))],
            failure: [])
        let r: EtcdMessages.TxnResponse = try await call("/v3/kv/txn", request)
        return r.succeeded == true
    }

    // MARK: Leases

    /// A new lease that ends `ttl` seconds after its last keep-alive; its ID.
    public func grantLease(ttl: Int64) async throws -> Int64 {
        let r: EtcdMessages.LeaseGrantResponse = try await call("/v3/lease/grant", EtcdMessages.LeaseGrantRequest(TTL: EtcdInt(ttl)))
        guard let id = r.ID?.value, id != 0 else {
            throw EtcdError(.malformed, call: "/v3/lease/grant", reason: r.error ?? "no lease ID in the answer")
        }
        return id
    }

    /// Renews `lease`; the seconds it now has (0: it had already ended, and its keys with it).
    public func keepAlive(lease: Int64) async throws -> Int64 {
        let r: EtcdMessages.LeaseKeepAliveResponse = try await call("/v3/lease/keepalive", EtcdMessages.LeaseKeepAliveRequest(ID: EtcdInt(lease)))
        return r.result?.TTL?.value ?? 0
    }

    /// Ends `lease` now, removing every key attached to it.
    public func revoke(lease: Int64) async throws {
        let _: EtcdMessages.PutResponse = try await call("/v3/lease/revoke", EtcdMessages.LeaseRevokeRequest(ID: EtcdInt(lease)))
    }

    // MARK: Watches

    /// Starts watching every key under `prefix` from `revision` on (0: from now); read its
    /// batches with `EtcdWatch.next()`. Events come in revision order and none is skipped: a
    /// watch that falls behind etcd's compaction ends with `.watchCanceled` (list again).
    public func watch(prefix: String, from revision: Int64) async throws -> EtcdWatch {
        let body = EtcdMessages.WatchRequest(
            create_request: .init(
                key: Data(prefix.utf8), range_end: EtcdRange.end(ofPrefix: prefix), start_revision: revision == 0 ? nil : EtcdInt(revision),
                progress_notify: true))
        let response = try await send("/v3/watch", body, client: streaming)
        guard response.status == .ok else {
            let text = try await response.body.collect(upTo: 1 << 16)
            throw Self.failure("/v3/watch", status: response.status, body: text)
        }
        return EtcdWatch(body: response.body)
    }

    // MARK: Transport

    func call<Request: Encodable, Answer: Decodable>(_ path: String, _ body: Request) async throws -> Answer {
        let response = try await send(path, body, client: unary)
        let bytes = try await response.body.collect(upTo: Self.maxAnswer)
        guard response.status == .ok else { throw Self.failure(path, status: response.status, body: bytes) }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(bytes.readableBytesView))
        } catch {
            throw EtcdError(.malformed, call: path, reason: "the answer is not what etcd writes: \(error)")
        }
    }

    /// Sends one request to the preferred endpoint, then to the others in turn while they cannot
    /// be reached; the first that answers becomes the preferred one.
    private func send<Request: Encodable>(_ path: String, _ body: Request, client: HTTPClient) async throws -> HTTPClientResponse {
        let payload = try JSONEncoder().encode(body)
        let first = preferred.withLockedValue { $0 }
        var lastError: (any Error)?
        for offset in 0..<endpoints.count {
            let index = (first + offset) % endpoints.count
            var request = HTTPClientRequest(url: endpoints[index] + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: payload))
            do {
                let response = try await client.execute(request, timeout: configuration.callTimeout, logger: logger)
                if [.badGateway, .serviceUnavailable, .gatewayTimeout].contains(response.status) {
                    // This member cannot serve (no leader, or its gateway lost it): another may.
                    lastError = Self.failure(path, status: response.status, body: try await response.body.collect(upTo: 1 << 16))
                    continue
                }
                if index != first { preferred.withLockedValue { $0 = index } }
                return response
            } catch {
                lastError = error
                logger.debug("etcd endpoint failed", metadata: ["endpoint": "\(endpoints[index])", "call": "\(path)", "error": "\(error)"])
            }
        }
        throw EtcdError(.unavailable, call: path, reason: "no etcd endpoint answered (\(endpoints.joined(separator: ", "))): \(lastError.map { "\($0)" } ?? "-")")
    }

    static func failure(_ path: String, status: HTTPResponseStatus, body: ByteBuffer) -> EtcdError {
        if let e = try? JSONDecoder().decode(EtcdMessages.ErrorBody.self, from: Data(body.readableBytesView)) {
            return EtcdError(.refused(code: e.code ?? -1), call: path, reason: e.message ?? e.error ?? "HTTP \(status.code)")
        }
        return EtcdError(.refused(code: -1), call: path, reason: "HTTP \(status.code) \(String(buffer: body).prefix(200))")
    }
}
