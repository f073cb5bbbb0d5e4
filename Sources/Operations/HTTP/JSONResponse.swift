import Foundation
import Hummingbird
import NIOCore

/// JSON bodies for the API: one encoder (sorted keys, ISO 8601 dates) so every answer has the
/// shape the OpenAPI document says, and errors as `{"error": "..."}` (with `path` for a config).
public enum JSONResponse {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// `value` as JSON with `status`.
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        do {
            let data = try encoder.encode(value)
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            return self.error(.internalServerError, "cannot encode the answer: \(error)")
        }
    }

    /// `{"error": reason}` (and `"path"` when given) with `status`.
    public static func error(_ status: HTTPResponse.Status, _ reason: String, path: String? = nil) -> Response {
        make(APIError(error: reason, path: path), status: status)
    }
}

/// What an API call that failed answers.
public struct APIError: Codable, Sendable, Equatable {
    public var error: String
    public var path: String?

    public init(error: String, path: String? = nil) {
        self.error = error
        self.path = path
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(error, forKey: .error)
        try c.encodeIfPresent(path, forKey: .path)
    }

    enum CodingKeys: String, CodingKey { case error, path }
}
