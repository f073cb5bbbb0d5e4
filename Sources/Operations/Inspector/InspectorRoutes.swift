import Hummingbird

/// The answers of the inspector's read routes, the same on the relay and the agent:
/// `GET /requests` (newest first, `tunnel` and `limit` filters, unknown parameters refused, as
/// the OpenAPI document says) and `GET /requests/{id}`. Replay differs (the relay opens a stream
/// to an agent, the agent connects to its service), so each binary adds that route itself.
public enum InspectorRoutes {
    /// `GET /requests`; no inspector: an empty list.
    public static func list(_ request: Request, inspector: RequestInspector?) -> Response {
        guard let inspector else { return JSONResponse.make(["requests": [InspectedRequest]()]) }
        let query = request.uri.queryParameters
        if let unknown = query.first(where: { $0.key != "tunnel" && $0.key != "limit" }) {
            return JSONResponse.error(.badRequest, "unknown query parameter \(unknown.key) (known: tunnel, limit)")
        }
        let limits = query.getAll("limit")
        let limit = limits.isEmpty ? 100 : limits.count == 1 ? Int(limits[0]) ?? -1 : -1
        guard (1...10_000).contains(limit) else { return JSONResponse.error(.badRequest, "limit takes one number from 1 to 10000") }
        guard query.getAll("tunnel").count <= 1 else { return JSONResponse.error(.badRequest, "tunnel is given once") }
        let tunnel = query.get("tunnel").map { String($0) }
        return JSONResponse.make(["requests": inspector.list(tunnel: tunnel, limit: limit)])
    }

    /// `GET /requests/{id}`.
    public static func get(id: String, inspector: RequestInspector?) -> Response {
        guard let record = inspector?.request(id: id) else { return JSONResponse.error(.notFound, "no request \(id) is kept") }
        return JSONResponse.make(record)
    }
}
