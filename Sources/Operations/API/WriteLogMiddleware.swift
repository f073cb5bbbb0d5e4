import Hummingbird
import Logging

/// Logs every call that changes something (any method but GET and HEAD) with its caller and
/// outcome: who revoked an agent or removed a rule must be on record.
struct WriteLogMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get && request.method != .head else { return try await next(request, context) }
        let client = context.remoteAddress.map { "\($0)" } ?? "?"
        do {
            let response = try await next(request, context)
            logger.notice("admin API write", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)", "client": "\(client)"])
            return response
        } catch {
            logger.notice("admin API write failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)", "client": "\(client)"])
            throw error
        }
    }
}
