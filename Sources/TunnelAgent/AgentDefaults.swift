import NIOCore
import Shared

/// The agent's defaults, each defined once.
public enum AgentDefaults {
    /// Sessions kept open to the relay: when one drops the others carry new streams at once, and
    /// with one per relay event loop the relay never hops threads between a connection and its
    /// stream. Two, as each side of our deployments usually has few cores; cloudflared keeps four.
    public static let sessions = 2
    /// The longest wait between reconnection attempts (the backoff doubles up to this).
    public static let maxBackoff = TimeAmount.seconds(30)
    /// The relay must answer a registration within this.
    public static let registrationReplyTimeout = TimeAmount.seconds(10)
    /// rudp flows (client addresses) served at once per session.
    public static let maxUDPFlows = 4096
}
