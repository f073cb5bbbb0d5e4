import Hummingbird
import Logging

/// What a binary adds to its admin API: the relay its agents, tunnels, rules and inspector; the
/// agent its own tunnels and requests. The `AdminServer` around it owns the listener, the
/// credentials, the dashboard, `health`, `services` and the OpenAPI document's delivery.
public protocol AdminAPI: Sendable {
    /// `relay` or `agent`, as `health` says.
    var role: String { get }
    /// The OpenAPI 3 paths and schemas (JSON members, `"/agents": {...}`) of the routes it adds;
    /// the server composes the document (`OpenAPIDocument.compose`) with the common ones.
    var openAPIPaths: [String] { get }
    var openAPISchemas: [String] { get }
    /// Counts `health` reports.
    func healthCounts() -> (agents: Int, tunnels: Int)
    /// Adds the binary's routes (under the prefix, behind the credentials).
    func addRoutes(to routes: AdminRoutes, logger: Logger)
}
