import Hummingbird
import NIOConcurrencyHelpers

/// The routes a binary adds to its admin API, recorded as they are added, so a request for a
/// known path with a method it does not take is answered 405 with `Allow` (not 404: the path
/// exists), as HTTP says and the OpenAPI checks expect.
public final class AdminRoutes {
    let group: RouterGroup<AdminRequestContext>
    let table: MethodTable
    /// The API's path prefix (`/api`), for the method table's full paths.
    private let prefix: String

    init(group: RouterGroup<AdminRequestContext>, prefix: String, table: MethodTable) {
        self.group = group
        self.table = table
        self.prefix = prefix
    }

    /// Adds `handler` for `method` on `path` (relative to the prefix; `:name` segments are
    /// parameters).
    public func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, AdminRequestContext) async throws -> Response) {
        group.on(RouterPath(path), method: method, use: handler)
        table.add(prefix + "/" + path, method)
    }

    public func get(_ path: String, _ handler: @escaping @Sendable (Request, AdminRequestContext) async throws -> Response) { on(.get, path, handler) }
    public func post(_ path: String, _ handler: @escaping @Sendable (Request, AdminRequestContext) async throws -> Response) { on(.post, path, handler) }
    public func delete(_ path: String, _ handler: @escaping @Sendable (Request, AdminRequestContext) async throws -> Response) { on(.delete, path, handler) }
}

/// Paths and the methods each takes; answers 405 for the others.
final class MethodTable: Sendable {
    private let entries = NIOLockedValueBox<[(segments: [Substring], methods: Set<HTTPRequest.Method>)]>([])

    func add(_ path: String, _ method: HTTPRequest.Method) {
        let segments = path.split(separator: "/")
        entries.withLockedValue { entries in
            if let i = entries.firstIndex(where: { $0.segments == segments }) {
                entries[i].methods.insert(method)
            } else {
                entries.append((segments, [method]))
            }
        }
    }

    /// The methods `path` takes, nil when no route has it.
    func methods(for path: String) -> Set<HTTPRequest.Method>? {
        let parts = path.split(separator: "/")
        return entries.withLockedValue { entries in
            entries.first { entry in
                entry.segments.count == parts.count && zip(entry.segments, parts).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
            }?.methods
        }
    }
}

/// Answers 405 (with `Allow`) for a known path asked with a method it does not take.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let table: MethodTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let methods = table.methods(for: request.uri.path) {
            var allowed = methods
            if allowed.contains(.get) { allowed.insert(.head) }
            if !allowed.contains(request.method) {
                var response = JSONResponse.error(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
                response.headers[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                return response
            }
        }
        return try await next(request, context)
    }
}
