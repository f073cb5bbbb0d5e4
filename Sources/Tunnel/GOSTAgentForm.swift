import Shared

/// GOST's agent form, `-L rtcp://:0/127.0.0.1:8080 -F "tunnel+tls://relay:8443?tunnel.id=<uuid>"`
/// (and the same in YAML: an rtcp/rudp service whose listener chain ends at a `tunnel` node),
/// turned into tunnel clients. The services are taken out of the config: the engine has no rtcp
/// listener of its own; the tunnel client is that listener.
public enum GOSTAgentForm {
    public static func extract(from config: inout Config) throws -> [TunnelClientConfiguration] {
        var clients: [TunnelClientConfiguration] = []
        var kept: [ServiceConfig] = []
        for (si, s) in (config.services ?? []).enumerated() {
            guard ["rtcp", "rudp"].contains(s.listener.type) else {
                kept.append(s)
                continue
            }
            let path = "services[\(si)]"
            guard let chainName = s.listener.chain else {
                throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) needs a chain that ends at the relay (a tunnel node)")
            }
            guard let chain = config.chains?.first(where: { $0.name == chainName }) else {
                throw ConfigError(path: "\(path).listener.chain", reason: "no chain named \"\(chainName)\"")
            }
            guard chain.hops.count == 1, let node = chain.hops[0].nodes.first, node.connector?.type == "tunnel" else {
                throw ConfigError(path: "\(path).listener.chain", reason: "\(s.listener.type) is served through a single tunnel node (connector type tunnel); other chains are not supported yet")
            }
            let meta = (node.connector?.metadata ?? Metadata()).values.merging((node.dialer?.metadata ?? Metadata()).values) { a, _ in a }
            guard let id = meta["tunnel.id"] ?? meta["tunnel"], !id.isEmpty else {
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
            let dialer: any Dialer
            if node.dialer?.type == "tls" {
                var tls = node.dialer?.tls?.options ?? TLSOptions()
                if let pin = meta["pin"] { tls.pinSHA256 = pin }
                if meta["secure"] == "true" { tls.secure = true }
                if let ca = meta["caFile"] { tls.caFile = ca }
                dialer = try TLSDialer(options: tls)
            } else {
                dialer = TCPDialer()
            }
            let port = listen.port
            let tunnel = TunnelClientConfiguration.Tunnel(
                id: id, hostnames: (meta["hostnames"] ?? "").split(separator: ",").map(String.init), target: target,
                remotePorts: s.listener.type == "rtcp" && port != 0 ? [port] : [],
                remoteUDPPorts: s.listener.type == "rudp" && port != 0 ? [port] : [])
            let token = node.connector?.auth?.password ?? meta["token"] ?? ""
            clients.append(TunnelClientConfiguration(relay: relay, dialer: dialer, token: token, tunnels: [tunnel]))
        }
        config.services = kept
        let used = Set(clients.isEmpty ? [] : (config.services ?? []).compactMap { $0.handler.chain })
        if !clients.isEmpty {
            config.chains = config.chains?.filter { used.contains($0.name) || $0.hops.allSatisfy { $0.nodes.allSatisfy { $0.connector?.type != "tunnel" } } }
        }
        return clients
    }
}
