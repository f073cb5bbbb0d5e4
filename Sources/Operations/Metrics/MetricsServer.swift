import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Shared

/// Serves the Prometheus exposition of this process on GOST's `-metrics <addr>` (path
/// `/metrics` unless the `metrics:` section says otherwise), behind basic auth when configured.
public struct MetricsServer: Service {
    public let address: ListenAddress
    public let path: String
    public let auth: Credentials?
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger

    public init(address: ListenAddress, path: String = "/metrics", auth: Credentials?, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.address = address
        self.path = path
        self.auth = auth
        self.registry = registry
        self.logger = logger
    }

    public func run() async throws {
        let router = Hummingbird.Router()
        if let auth { router.add(middleware: BasicAuthMiddleware(auth, realm: "metrics")) }
        let registry = self.registry
        router.get(RouterPath(path)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let logger = self.logger
        let path = self.path
        let app = Application(
            router: router, configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                logger.info("metrics listening", metadata: ["addr": "\(channel.localAddress.map { "\($0.hostPort)" } ?? "?")", "path": "\(path)"])
            },
            logger: logger)
        try await app.run()
    }
}
