import Foundation

/// The JSON of etcd's v3 gateway (grpc-gateway over `etcdserverpb`), as much of it as the client
/// uses. The gateway writes 64-bit integers as strings, leaves out fields that hold their zero
/// value, and carries keys and values as base64; `EtcdInt` and the optional fields absorb that.
enum EtcdMessages {
    struct Header: Decodable, Sendable {
        var revision: EtcdInt?
    }

    struct KeyValue: Decodable, Sendable {
        var key: Data?
        var value: Data?
        var create_revision: EtcdInt?
        var mod_revision: EtcdInt?
        var version: EtcdInt?
        var lease: EtcdInt?
    }

    struct RangeRequest: Encodable, Sendable {
        var key: Data
        var range_end: Data?
        var limit: EtcdInt?
    }

    struct RangeResponse: Decodable, Sendable {
        var header: Header?
        var kvs: [KeyValue]?
        var count: EtcdInt?
    }

    struct PutRequest: Encodable, Sendable {
        var key: Data
        var value: Data
        var lease: EtcdInt?
    }

    struct PutResponse: Decodable, Sendable {
        var header: Header?
    }

    struct DeleteRangeRequest: Encodable, Sendable {
        var key: Data
        var range_end: Data?
    }

    struct DeleteRangeResponse: Decodable, Sendable {
        var header: Header?
        var deleted: EtcdInt?
    }

    struct Compare: Encodable, Sendable {
        var result: String
        var target: String
        var key: Data
        var create_revision: EtcdInt?
        var mod_revision: EtcdInt?
        var value: Data?
    }

    struct RequestOp: Encodable, Sendable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct TxnRequest: Encodable, Sendable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct ResponseOp: Decodable, Sendable {
        var response_range: RangeResponse?
        var response_put: PutResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnResponse: Decodable, Sendable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct LeaseGrantRequest: Encodable, Sendable {
        var TTL: EtcdInt
    }

    struct LeaseGrantResponse: Decodable, Sendable {
        var ID: EtcdInt?
        var TTL: EtcdInt?
        var error: String?
    }

    struct LeaseKeepAliveRequest: Encodable, Sendable {
        var ID: EtcdInt
    }

    /// The keep-alive call is a stream in gRPC; over the gateway one request gets one `result`.
    struct LeaseKeepAliveResponse: Decodable, Sendable {
        struct Result: Decodable, Sendable {
            var ID: EtcdInt?
            var TTL: EtcdInt?
        }
        var result: Result?
    }

    struct LeaseRevokeRequest: Encodable, Sendable {
        var ID: EtcdInt
    }

    struct WatchCreateRequest: Encodable, Sendable {
        var key: Data
        var range_end: Data?
        var start_revision: EtcdInt?
        var prev_kv: Bool?
        var progress_notify: Bool?
    }

    struct WatchRequest: Encodable, Sendable {
        var create_request: WatchCreateRequest
    }

    struct Event: Decodable, Sendable {
        /// Absent for PUT (its zero value).
        var type: String?
        var kv: KeyValue?
    }

    /// One line of the watch stream.
    struct WatchResponse: Decodable, Sendable {
        struct Result: Decodable, Sendable {
            var header: Header?
            var created: Bool?
            var canceled: Bool?
            var compact_revision: EtcdInt?
            var cancel_reason: String?
            var events: [Event]?
        }
        var result: Result?
        var error: ErrorBody?
    }

    /// What the gateway answers a failed call with (also inside a stream).
    struct ErrorBody: Decodable, Sendable, Error {
        var error: String?
        var message: String?
        var code: Int?
    }
}

/// A 64-bit integer as the gateway writes it (a JSON string) or as a client may (a number).
struct EtcdInt: Codable, Sendable, Equatable, ExpressibleByIntegerLiteral {
    var value: Int64

    init(_ value: Int64) { self.value = value }
    init(integerLiteral value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            value = n
        } else {
            let text = try c.decode(String.self)
            guard let n = Int64(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a 64-bit integer: \(text)")
            }
            value = n
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(String(value))
    }
}
