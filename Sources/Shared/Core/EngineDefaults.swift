import NIOCore

/// The engine's defaults, each defined once: initialisers, options types and help texts read
/// them from here, so a default cannot drift between the place that applies it and the place
/// that documents it.
public enum EngineDefaults {
    /// Connecting to a node or a target gives up after this (then the next node is tried).
    public static let connectTimeout = TimeAmount.seconds(10)
    /// A client has this long to finish its protocol's handshake (greeting, request, TLS).
    public static let handshakeTimeout = TimeAmount.seconds(30)
    /// A UDP flow (a client address of a `udp` forward, SOCKS5 UDP or rudp) is forgotten after
    /// this long without a datagram either way (GOST's `ttl`).
    public static let udpIdleTimeout = TimeAmount.seconds(60)
    /// UDP client addresses one `udp` forward serves at once (GOST's `maxSessions`).
    public static let maxUDPSessions = 4096
}
