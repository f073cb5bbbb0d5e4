import NIOCore

/// The UDP forwarder's metadata (GOST's keys).
public struct UDPForwardOptions: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = ["ttl", "idleTimeout", "maxSessions"]

    /// How long a client address's upstream socket lives without traffic (`ttl`, or `idleTimeout`).
    public var idleTimeout: TimeAmount = EngineDefaults.udpIdleTimeout
    /// Client addresses served at once (`maxSessions`); datagrams from others are dropped.
    public var maxSessions = EngineDefaults.maxUDPSessions

    public init() {}

    public init(metadata: Metadata) {
        if let ttl = metadata.duration("ttl") ?? metadata.duration("idleTimeout") { idleTimeout = TimeAmount(ttl) }
        maxSessions = metadata.int("maxSessions") ?? maxSessions
    }
}
