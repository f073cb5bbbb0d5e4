import Shared

extension Registry {
    /// The standard registry plus the relay's handlers: `tunnel` (agent endpoint) and `entrypoint`
    /// (public HTTP/TLS), sharing one `TunnelRegistry`.
    ///
    /// `tunnel` reads `metadata.tokens` (comma-separated) and `auths[].password` as agent tokens;
    /// with none, any agent is accepted (GOST's default).
    public func withTunnel(_ tunnels: TunnelRegistry, ports: RemotePorts? = nil) -> Registry {
        var r = self
        r.handlers["tunnel"] = { spec in
            var tokens = Set((spec.options.metadata["tokens"] ?? spec.options.metadata["token"] ?? "").split(separator: ",").map(String.init))
            if let auth = spec.options.auth { tokens.insert(auth.password) }
            return .stream(RelayAgentHandler(registry: tunnels, tokens: tokens, ports: ports))
        }
        r.handlers["entrypoint"] = { _ in .stream(EntrypointHandler(registry: tunnels)) }
        return r
    }
}
