import Shared

extension Registry {
    /// The standard registry plus the relay's handlers: `tunnel` (agent endpoint) and `entrypoint`
    /// (public HTTP/TLS), sharing one `TunnelRegistry`.
    ///
    /// `tunnel` accepts the tokens of `policy` (with their rights), plus `metadata.tokens`
    /// (comma-separated) and `auth.password` with full rights; with none, any agent is accepted
    /// (GOST's default).
    public func withTunnel(_ tunnels: TunnelRegistry, ports: RemotePorts? = nil, policy: TokenPolicy = TokenPolicy()) -> Registry {
        var r = self
        r.handlers["tunnel"] = { spec in
            var rights = policy.rights
            for t in (spec.options.metadata["tokens"] ?? spec.options.metadata["token"] ?? "").split(separator: ",") {
                rights[String(t)] = .all
            }
            if let auth = spec.options.auth { rights[auth.password] = .all }
            return .stream(RelayAgentHandler(registry: tunnels, policy: TokenPolicy(rights: rights), ports: ports))
        }
        r.handlers["entrypoint"] = { _ in .stream(EntrypointHandler(registry: tunnels)) }
        return r
    }
}
