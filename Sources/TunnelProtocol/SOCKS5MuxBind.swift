import NIOCore
import Shared

/// The private SOCKS5 commands through which an agent asks a relay's `socks5` service (with
/// `bind=true`) to open a port and carry it over a Mux session on the same connection — GOST's
/// remote port forwarding (rtcp/rudp) through a SOCKS5 node. See docs/tunnel.md.
///
/// The request is an ordinary SOCKS5 request (`05 CMD 00 ATYP ADDR PORT`) whose address is the
/// port to open (`0.0.0.0:2222`); the reply is an ordinary reply. After a success reply the
/// connection carries a Mux session exactly as the relay's agent endpoint does, with a tunnel ID
/// both sides derive from the command and port, so nothing else needs to be said.
public enum SOCKS5MuxBind {
    /// Open a TCP port; each accepted connection is a stream (rtcp).
    public static let tcpCommand: UInt8 = 0xF1
    /// Open a UDP port; each client address is a flow of Mux datagrams (rudp).
    public static let udpCommand: UInt8 = 0xF2

    /// The request for `port`, TCP or UDP.
    public static func request(port: Int, udp: Bool) -> SOCKS5Request {
        SOCKS5Request(command: udp ? udpCommand : tcpCommand, address: HostPort(host: "0.0.0.0", port: port))
    }

    /// Whether `command` is one of ours, and which kind.
    public static func isUDP(command: UInt8) -> Bool? {
        switch command {
        case tcpCommand: return false
        case udpCommand: return true
        default: return nil
        }
    }

    /// The tunnel ID of a bound port: `socks5-bind:tcp/2222` or `socks5-bind:udp/10053`. The agent's
    /// hello must claim exactly this tunnel and this port.
    public static func tunnelID(port: Int, udp: Bool) -> String {
        "\(tunnelPrefix)\(udp ? "udp" : "tcp")/\(port)"
    }

    /// The prefix of those IDs: reserved, so no agent on the agent port can join such a tunnel.
    public static let tunnelPrefix = "socks5-bind:"
}
