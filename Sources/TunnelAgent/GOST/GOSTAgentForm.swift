import Logging
import Shared
import TunnelProtocol

/// GOST's agent forms, as the tunnel clients their `rtcp`/`rudp` listeners run:
/// `-L rtcp://:0/127.0.0.1:8080 -F "tunnel+tls://relay:8443?tunnel.id=<uuid>"`, and
/// `-L rtcp://:2222/127.0.0.1:22 -F socks5://user:pass@relay:1080` (rtcp/rudp through a SOCKS5
/// node with `bind=true`, carried by the private mux-bind commands, `SOCKS5MuxBind`). In YAML: an
/// rtcp/rudp service whose listener chain ends at a `tunnel` or `socks5` node
/// (`RemoteListener` is that listener). Hops before that node are the way to the relay
/// (`-F http://user:pass@proxy:3128 -F tunnel+tls://relay:8443?…`), and a tunnel node may be
/// reached over WebSocket: `tunnel+ws://relay:80?path=/_tunnel/agent&…`, `tunnel+wss://…`.
public enum GOSTAgentForm {
    /// The tunnel client that serves `service` (at `path`, `services[0]`) through `chain`, its
    /// listener's chain. Errors name the offending key with its full path.
    public static func client(for s: ServiceConfig, path: String, chain: ChainConfig?, registry: Registry = .standard) throws -> TunnelClientConfiguration {
        guard let chain else {
            throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) needs a chain that ends at the relay (a tunnel or socks5 node)")
        }
        let chainName = chain.name
        let last = chain.hops.count - 1
        let connectorType = chain.hops.last?.nodes.first?.connector?.type ?? "http"
        guard last >= 0, chain.hops[last].nodes.count == 1, let node = chain.hops[last].nodes.first, ["tunnel", "socks5", "socks"].contains(connectorType) else {
            throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) needs a chain whose last hop is one tunnel or socks5 node (the relay); the hops before it lead there")
        }
        let nodePath = "chains[\(chainName)].hops[\(last)].nodes[0]"
        // The hops before the relay's node: the way there, built as any chain.
        var router = Router()
        if last > 0 {
            let prefix = ChainConfig(name: chainName, hops: Array(chain.hops[..<last]))
            router = Router(chain: try EngineBuilder(registry: registry, logger: Logger(label: "tunnel-agent")).buildChain(prefix, path: "chains[\(chainName)]"))
        }
        let viaSOCKS = connectorType != "tunnel"
        let meta = (node.connector?.metadata ?? Metadata()).values.merging((node.dialer?.metadata ?? Metadata()).values) { a, _ in a }
        let options = try TunnelNodeOptions(metadata: meta, path: "\(nodePath).connector.metadata")
        let givenID = options.tunnelID
        if !viaSOCKS && (givenID ?? "").isEmpty {
            throw ConfigError(path: "\(nodePath).connector.metadata", reason: "the tunnel node needs tunnel.id")
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
        let dialerType = node.dialer?.type ?? "tcp"
        if viaSOCKS && ["ws", "wss"].contains(dialerType) {
            throw ConfigError(path: "\(nodePath).dialer.type", reason: "a socks5 relay node is reached over tcp or tls; WebSocket is for tunnel nodes")
        }
        if ["tls", "ws", "wss"].contains(dialerType) {
            // The node's TLS keys (`secure`, `caFile`, and `certFile`/`keyFile`: a client
            // certificate for a relay that requires one) over its `tls:` section. Over WebSocket
            // they are those of the TLS inside it, to the agent endpoint; `wss.caFile` is for the
            // outer HTTPS.
            let base = node.dialer?.tls?.options ?? TLSOptions()
            var tls = TLSText { meta[$0] }?.applied(to: base) ?? base
            if let pin = options.pin { tls.pinSHA256 = pin }
            tls.applicationProtocols = [TunnelMessages.agentALPN]
            do {
                let transport = RelayEndpoint.Transport(rawValue: dialerType) ?? .tls
                let outer = try RelayDialer.outerTLS(for: transport, caFile: options.wssCAFile)
                let endpoint = RelayEndpoint(transport: transport, address: relay, path: options.path ?? RelayEndpoint.defaultPath)
                dialer = RelayDialer(endpoint: endpoint, router: router, tls: try TLSDialer(options: tls), outerTLS: outer)
            } catch {
                throw ConfigError(path: "\(nodePath).dialer.tls", reason: "\(error)")
            }
        } else if dialerType == "tcp" {
            dialer = router
        } else {
            throw ConfigError(path: "\(nodePath).dialer.type", reason: "the relay's node is reached over tcp, tls, ws or wss, not \"\(dialerType)\"")
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
