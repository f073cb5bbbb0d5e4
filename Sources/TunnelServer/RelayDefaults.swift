import NIOCore
import Shared

/// The relay's defaults, each defined once: its flags, its handlers' metadata and its types'
/// initialisers read them from here.
public enum RelayDefaults {
    /// The embedded relay's agent endpoint (TLS).
    public static let agentAddress = ":8443"
    /// The embedded relay's public entrypoint (HTTP by Host, TLS by SNI).
    public static let publicAddress = ":8080"
    /// nginx closes idle keep-alive connections after 75 s; so does the HTTP entrypoint.
    public static let httpIdleTimeout = TimeAmount.seconds(75)
    /// A request head gets 10 s from its first byte (nginx's client_header_timeout is 60 s; a head
    /// is one packet for every real client, so a shorter bound costs them nothing and holds a
    /// slowloris connection a sixth as long).
    public static let httpHeadTimeout = TimeAmount.seconds(10)
    /// An agent session that has not registered by then is closed and counted as a failure.
    public static let registrationTimeout = TimeAmount.seconds(10)
    /// How long agent sessions get to finish their streams at shutdown.
    public static let drainTimeout = TimeAmount.seconds(30)
    /// UDP flows of all rudp ports together.
    public static let maxUDPFlows = 65_536
    /// The most public connections one source address holds at once.
    public static let maxPublicConnectionsPerAddress = 512
}

extension TimeAmount {
    /// The Go duration text of this amount (`75s`, `500ms`), for flags' default values.
    public var goDuration: String { GoDuration.format(self) }
}
