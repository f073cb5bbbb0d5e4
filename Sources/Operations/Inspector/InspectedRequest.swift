import Foundation

/// One exchange as the inspector shows it (`GET /api/requests`, the dashboard): the JSON shape
/// the OpenAPI document's `Request` schema gives. Bodies are base64 (they may be binary).
public struct InspectedRequest: Codable, Sendable, Equatable {
    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var id: String
    public var tunnel: String
    public var method: String
    public var host: String
    public var path: String
    public var `protocol`: String
    public var status: Int?
    public var durationMilliseconds: Double?
    public var requestBytes: Int
    public var responseBytes: Int
    public var client: String?
    public var startedAt: Date
    public var requestHeaders: [Header]
    public var responseHeaders: [Header]
    public var requestBody: Data?
    public var requestBodyTruncated: Bool
    public var responseBody: Data?
    public var responseBodyTruncated: Bool
    public var replayOf: String?

    /// Every key is written, `null` where there is no value (the document lists them all).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(tunnel, forKey: .tunnel)
        try c.encode(method, forKey: .method)
        try c.encode(host, forKey: .host)
        try c.encode(path, forKey: .path)
        try c.encode(`protocol`, forKey: .protocol)
        try c.encode(status, forKey: .status)
        try c.encode(durationMilliseconds, forKey: .durationMilliseconds)
        try c.encode(requestBytes, forKey: .requestBytes)
        try c.encode(responseBytes, forKey: .responseBytes)
        try c.encode(client, forKey: .client)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(requestHeaders, forKey: .requestHeaders)
        try c.encode(responseHeaders, forKey: .responseHeaders)
        try c.encode(requestBody, forKey: .requestBody)
        try c.encode(requestBodyTruncated, forKey: .requestBodyTruncated)
        try c.encode(responseBody, forKey: .responseBody)
        try c.encode(responseBodyTruncated, forKey: .responseBodyTruncated)
        try c.encode(replayOf, forKey: .replayOf)
    }

    /// What this record holds, roughly, in bytes (for the ring's bound).
    package var footprint: Int {
        let heads = (requestHeaders + responseHeaders).reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
        return 256 + host.utf8.count + path.utf8.count + heads + (requestBody?.count ?? 0) + (responseBody?.count ?? 0)
    }
}
