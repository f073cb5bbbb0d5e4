import Shared

/// A configured service as `GET /services` shows it.
public struct ServiceSummary: Codable, Sendable, Equatable {
    public var name: String
    public var addr: String
    public var handler: String
    public var listener: String

    public init(name: String, addr: String, handler: String, listener: String) {
        self.name = name
        self.addr = addr
        self.handler = handler
        self.listener = listener
    }

    /// Every service of `config`, in its order.
    public static func of(_ config: Config) -> [ServiceSummary] {
        (config.services ?? []).map { ServiceSummary(name: $0.name, addr: $0.addr, handler: $0.handler.type, listener: $0.listener.type) }
    }
}

/// `GET /health`.
public struct HealthReport: Codable, Sendable, Equatable {
    public var status: String
    public var role: String
    public var version: String
    public var uptimeSeconds: Double
    public var agents: Int
    public var tunnels: Int
}
