import Hummingbird
import Logging

/// What a binary adds to its admin API: the relay its agents, tunnels, rules and inspector; the
/// agent its own tunnels and requests. The `AdminServer` around it owns the listener, the
/// credentials, the dashboard, `health`, `services` and the OpenAPI document's delivery.
public protocol AdminAPI: Sendable {
    /// `relay` or `agent`, as `health` says.
    var role: String { get }
    /// The OpenAPI 3 document (JSON) that describes every route under the prefix.
    var openAPIDocument: String { get }
    /// Counts `health` reports.
    func healthCounts() -> (agents: Int, tunnels: Int)
    /// Adds the binary's routes to `group` (already under the prefix, behind the credentials).
    func addRoutes(to group: RouterGroup<AdminRequestContext>, logger: Logger)
}
