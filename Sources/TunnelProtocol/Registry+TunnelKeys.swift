import Shared

extension Registry {
    /// The metadata keys of the relay's handlers and of GOST's agent form (`tunnel` connector
    /// with `tunnel.id`, `pin`, ...), so that they are not reported as unknown.
    public func withTunnelMetadataKeys() -> Registry {
        var r = self
        r.metadataKeys.formUnion([
            "bind",  // relay socks5: rtcp/rudp through a SOCKS5 node
            "tokens", "token", "tunnel", "registrationTimeout", "entrypoint", "entrypoint.idleTimeout", "entrypoint.headTimeout",  // tunnel handler
            "idleTimeout", "headTimeout",  // entrypoint handler
            "tunnel.id", "tunnel.weight", "hostnames", "pin",  // entrypoint handler, agent's tunnel connector
        ])
        return r
    }
}
