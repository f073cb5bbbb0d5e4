import Shared

extension Registry {
    /// The standard registry plus GOST's agent forms: the `rtcp`/`rudp` listeners (which accept
    /// through a chain ending at the relay) and handlers, the `tunnel` node's connector, and the
    /// keys of a tunnel node.
    public func withAgentForms() -> Registry {
        var r = self
        r.declare(TunnelNodeOptions.self)
        for udp in [false, true] {
            let type = udp ? "rudp" : "rtcp"
            r.listeners[type] = { spec in
                guard let service = spec.service else { throw ConfigError(path: spec.path, reason: "\(type) is built from its service's config") }
                return .stream(RemoteListener(client: try GOSTAgentForm.client(for: service, path: spec.path, chain: spec.chain), udp: udp))
            }
            r.listenerTraits[type] = ListenerTraits(usesChain: true, namedByScheme: true)
            r.traits[type, default: HandlerTraits()].needsForwarder = true
        }
        r.handlers["rtcp"] = { .stream(TCPForwardHandler(options: $0.options)) }
        r.handlers["rudp"] = { _ in .stream(RemoteUDPHandler()) }
        r.connectors["tunnel"] = { _ in TunnelNodeConnector() }
        return r
    }
}
