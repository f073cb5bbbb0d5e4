import Shared
import TunnelProtocol

/// GOST's agent forms, as the tunnel clients their `rtcp`/`rudp` listeners run:
/// `-L rtcp://:0/127.0.0.1:8080 -F "tunnel+tls://relay:8443?tunnel.id=<uuid>"`, and
/// `-L rtcp://:2222/127.0.0.1:22 -F socks5://user:pass@relay:1080` (rtcp/rudp through a SOCKS5
/// node with `bind=true`, carried by the private mux-bind commands, `SOCKS5MuxBind`). In YAML: an
/// rtcp/rudp service whose listener chain is one hop to a `tunnel` or `socks5` node
/// (`RemoteListener` is that listener).
public enum GOSTAgentForm {
    /// The tunnel client that serves `service` (at `path`, `services[0]`) through `chain`, its
    /// listener's chain. Errors name the offending key with its full path.
    public static func client(for s: ServiceConfig, path: String, chain: ChainConfig?) throws -> TunnelClientConfiguration {
        guard let chain else {
            throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) needs a chain that ends at the relay (a tunnel or socks5 node)")
        }
        let chainName = chain.name
        let connectorType = chain.hops.first?.nodes.first?.connector?.type ?? "http"
        guard chain.hops.count == 1, let node = chain.hops[0].nodes.first, ["tunnel", "socks5", "socks"].contains(connectorType) else {
            throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) is served through a single tunnel or socks5 node; other chains are not supported yet")
        }
        let viaSOCKS = connectorType != "tunnel"
        let meta = (node.connector?.metadata ?? Metadata()).values.merging((node.dialer?.metadata ?? Metadata()).values) { a, _ in a }
        let options = try TunnelNodeOptions(metadata: meta, path: "chains[\(chainName)].hops[0].nodes[0].connector.metadata")
        let givenID = options.tunnelID
        if !viaSOCKS && (givenID ?? "").isEmpty {
            throw ConfigError(path: "chains[\(chainName)].hops[0].nodes[0].connector.metadata", reason: "the tunnel node needs tunnel.id")
        }
        guard let targetText = s.forwarder?.nodes.first?.addr else {
            throw ConfigError(path: "\(path).forwarder.nodes", reason: "\(s.listener.type) needs a local target")
        }
        let target: HostPort
        let listen: HostPort
        let relay: HostPort
        do {
            target = try HostPort(parsing: targetText)
            listen = try HostPort(parsing: s.addr)
            relay = try HostPort(parsing: node.addr)
        } catch {
            throw ConfigError(path: path, reason: "\(error)")
        }
        var dialer: any Dialer
        if node.dialer?.type == "tls" {
            // The node's TLS keys (`secure`, `caFile`, and `certFile`/`keyFile`: a client
            // certificate for a relay that requires one) over its `tls:` section.
            let base = node.dialer?.tls?.options ?? TLSOptions()
            var tls = TLSText { meta[$0] }?.applied(to: base) ?? base
            if let pin = options.pin { tls.pinSHA256 = pin }
            tls.applicationProtocols = [TunnelMessages.agentALPN]
            do {
                dialer = try TLSDialer(options: tls)
            } catch {
                throw ConfigError(path: "chains[\(chainName)].hops[0].nodes[0].dialer.tls", reason: "\(error)")
            }
        } else {
            dialer = TCPDialer()
        }
        let port = listen.port
        let udp = s.listener.type == "rudp"
        let id: String
        var token = node.connector?.auth?.password ?? options.token ?? ""
        if viaSOCKS {
            // The relay opens exactly the requested port; the tunnel ID follows from it.
            guard port != 0 else {
                throw ConfigError(path: "\(path).addr", reason: "\(s.listener.type) through a socks5 node needs the port for the relay to open")
            }
            dialer = SOCKS5BindDialer(transport: dialer, credentials: node.connector?.auth, port: port, udp: udp)
            id = SOCKS5MuxBind.tunnelID(port: port, udp: udp)
            // The SOCKS5 authentication is the authorization; no token is sent.
            token = ""
        } else {
            id = givenID ?? ""
        }
        let tunnel = TunnelClientConfiguration.Tunnel(
            id: id, hostnames: viaSOCKS ? [] : options.hostnames, target: target,
            remotePorts: !udp && port != 0 ? [port] : [],
            remoteUDPPorts: udp && port != 0 ? [port] : [],
            weight: options.weight)
        return TunnelClientConfiguration(relay: relay, dialer: dialer, token: token, tunnels: [tunnel])
    }
}
