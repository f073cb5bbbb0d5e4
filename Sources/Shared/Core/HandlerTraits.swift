/// What the engine must know about a handler type beyond how to make one: the checks and
/// arrangements `EngineBuilder` applies to every service of that type.
///
/// Why: these used to be separate registry tables named after the one handler that needed them
/// (the relay's agent endpoint); as traits any protocol module can declare them, and the engine
/// holds no list of particular handler names.
public struct HandlerTraits: Sendable {
    /// It forwards to the service's `forwarder` nodes, so a service without one is refused.
    public var needsForwarder = false
    /// Its `tls` listener accepts TLS 1.3 only (an endpoint only our own clients dial).
    public var requiresTLS13 = false
    /// ALPN IDs its `tls` listener accepts (the agent endpoint's own, so the relay's HTTPS port
    /// can recognise an agent's ClientHello and hand it over).
    public var applicationProtocols: [String] = []
    /// Services it brings along (GOST's `tunnel` handler opens its `entrypoint`): given the
    /// configured service, the extra services to run beside it.
    public var companions: (@Sendable (ServiceConfig) -> [ServiceConfig])?
    /// A cap on connections held at once, shared by every service of this type.
    public var connectionLimiter: ConnectionLimiter?

    public init(needsForwarder: Bool = false, requiresTLS13: Bool = false, companions: (@Sendable (ServiceConfig) -> [ServiceConfig])? = nil, connectionLimiter: ConnectionLimiter? = nil) {
        self.needsForwarder = needsForwarder
        self.requiresTLS13 = requiresTLS13
        self.companions = companions
        self.connectionLimiter = connectionLimiter
    }
}
