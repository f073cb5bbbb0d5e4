import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Shared

/// The admin API listener (`-api <addr>`): the binary's routes (`AdminAPI`) under the prefix,
/// plus `health`, `services` and `openapi.json`, and the dashboard at `/`; everything behind the
/// configured credentials, every write logged.
public struct AdminServer: Service {
    public let settings: APISettings
    public let api: any AdminAPI
    public let services: [ServiceSummary]
    public let logger: Logger
    /// Re-reads the configuration (`POST /reload`); nil: this process cannot.
    public let reload: (@Sendable () async -> ReloadOutcome)?
    let started = ContinuousClock.now

    public init(settings: APISettings, api: any AdminAPI, services: [ServiceSummary], reload: (@Sendable () async -> ReloadOutcome)? = nil, logger: Logger) {
        self.settings = settings
        self.api = api
        self.services = services
        self.reload = reload
        self.logger = logger
    }

    /// The router, apart from the listener (tests drive it in memory).
    public func router() -> Hummingbird.Router<AdminRequestContext> {
        let router = Hummingbird.Router(context: AdminRequestContext.self)
        if let auth = settings.auth { router.add(middleware: BasicAuthMiddleware(auth, realm: "tunnel \(api.role)")) }
        router.add(middleware: WriteLogMiddleware(logger: logger))
        let table = MethodTable()
        router.add(middleware: MethodNotAllowedMiddleware(table: table))
        let prefix = settings.pathPrefix
        let page = DashboardAssets.indexHTML.replacingOccurrences(of: "{{API_BASE}}", with: prefix)
        router.get("/") { _, _ in Self.asset(page, type: "text/html; charset=utf-8") }
        router.get("/dashboard.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard.css") { _, _ in Self.asset(DashboardAssets.style, type: "text/css; charset=utf-8") }
        let routes = AdminRoutes(group: router.group(RouterPath(prefix)), prefix: prefix, table: table)
        let api = self.api
        let services = self.services
        let started = self.started
        routes.get("health") { _, _ in
            let counts = api.healthCounts()
            let up = ContinuousClock.now - started
            return JSONResponse.make(HealthReport(
                status: "ok", role: api.role, version: BuildVersion.current,
                uptimeSeconds: Double(up.components.seconds) + Double(up.components.attoseconds) / 1e18, agents: counts.agents, tunnels: counts.tunnels))
        }
        routes.get("services") { _, _ in JSONResponse.make(["services": services]) }
        if let reload {
            routes.post("reload") { _, _ in
                let outcome = await reload()
                return JSONResponse.make(outcome, status: outcome.refused ? .badRequest : .ok)
            }
        }
        let document = OpenAPIDocument.compose(
            title: "tunnel \(api.role)", prefix: prefix, paths: api.openAPIPaths + (reload == nil ? [] : [OpenAPIDocument.reloadPath]),
            schemas: api.openAPISchemas + (reload == nil ? [] : [OpenAPIDocument.reloadSchema]), secured: settings.auth != nil)
        routes.get("openapi.json") { _, _ in Self.asset(document, type: "application/json") }
        api.addRoutes(to: routes, logger: logger)
        return router
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    public func run() async throws {
        let logger = self.logger
        let prefix = settings.pathPrefix
        let app = Application(
            router: router(), configuration: .init(address: .hostname(settings.address.host, port: settings.address.port), serverName: nil),
            onServerRunning: { channel in
                logger.info("admin API listening", metadata: ["addr": "\(channel.localAddress.map { "\($0.hostPort)" } ?? "?")", "prefix": "\(prefix)", "dashboard": "/"])
            },
            logger: logger)
        try await app.run()
    }
}
