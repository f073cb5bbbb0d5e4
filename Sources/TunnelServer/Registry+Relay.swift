import NIOCore
import Shared
import TunnelProtocol

extension Registry {
    /// The standard registry plus the relay's handlers: `tunnel` (agent endpoint) and `entrypoint`
    /// (public HTTP/TLS), sharing one `TunnelRegistry`; `socks5` also serves GOST's rtcp/rudp
    /// through a SOCKS5 node (`bind=true`) as agent sessions (`RelaySOCKS5Handler`).
    ///
    /// `tunnel` accepts the tokens of `policy` (with their rights), plus `metadata.tokens`
    /// (comma-separated) and `auth.password` with full rights; with none, any agent is accepted
    /// (GOST's default). A session that has not registered within `registrationTimeout`
    /// (`metadata.registrationTimeout` per service, e.g. `5s`) is closed.
    ///
    /// `publicLimiter` caps the connections `entrypoint` services hold at once (shared by all of
    /// them; the relay also gives it to its rtcp ports); the agents' `tunnel` services are never
    /// capped by it.
    public func withTunnel(_ tunnels: TunnelRegistry, ports: RemotePorts? = nil, policy: TokenPolicy = TokenPolicy(), registrationTimeout: TimeAmount = .seconds(10), publicLimiter: ConnectionLimiter? = nil) -> Registry {
        var r = self.withTunnelMetadataKeys()
        if let publicLimiter { r.connectionLimiters["entrypoint"] = publicLimiter }
        r.handlers["tunnel"] = { spec in
            var rights = policy.rights
            for t in (spec.options.metadata["tokens"] ?? spec.options.metadata["token"] ?? "").split(separator: ",") {
                rights[String(t)] = .all
            }
            if let auth = spec.options.auth { rights[auth.password] = .all }
            // GOST's `tunnel=host:id,host2:id2` ingress rules.
            for rule in (spec.options.metadata["tunnel"] ?? "").split(separator: ",") {
                guard let colon = rule.lastIndex(of: ":") else { throw ConfigError(path: "handler.metadata.tunnel", reason: "expected host:tunnel-id, got \"\(rule)\"") }
                tunnels.addRule(String(rule[..<colon]), tunnel: String(rule[rule.index(after: colon)...]))
            }
            // GOST's `ingress: <name>`: the rules of a top-level `ingresses` entry.
            for rule in spec.ingress?.rules ?? [] {
                tunnels.addRule(rule.hostname, tunnel: rule.endpoint)
            }
            var timeout = registrationTimeout
            if spec.options.metadata["registrationTimeout"] != nil {
                guard let d = spec.options.metadata.duration("registrationTimeout"), d > .zero else {
                    throw ConfigError(path: "handler.metadata.registrationTimeout", reason: "expected a duration such as 10s, got \"\(spec.options.metadata["registrationTimeout"] ?? "")\"")
                }
                timeout = .nanoseconds(Int64(d / .nanoseconds(1)))
            }
            var servicePolicy = policy
            servicePolicy.rights = rights
            servicePolicy.owners.addLive(servicePolicy.principals)
            return .stream(RelayAgentHandler(registry: tunnels, policy: servicePolicy, ports: ports, registrationTimeout: timeout))
        }
        let owners = SOCKS5BindOwners()
        r.handlers["socks5"] = { spec in
            .stream(RelaySOCKS5Handler(options: spec.options, auth: spec.auth, registry: tunnels, ports: ports, owners: owners, claims: policy.owners))
        }
        r.handlers["socks"] = r.handlers["socks5"]
        // `entrypoint` routes by Host/SNI; with `metadata.tunnel.id` (or `tunnel`) it is a plain TCP
        // entrypoint whose every connection goes to that one tunnel.
        r.handlers["entrypoint"] = { spec in
            func duration(_ key: String, default value: TimeAmount, example: String) throws -> TimeAmount {
                guard let text = spec.options.metadata[key] else { return value }
                guard let d = spec.options.metadata.duration(key), d > .zero else {
                    throw ConfigError(path: "handler.metadata.\(key)", reason: "expected a duration such as \(example), got \"\(text)\"")
                }
                return .nanoseconds(Int64(d / .nanoseconds(1)))
            }
            let idle = try duration("idleTimeout", default: EntrypointHandler.defaultIdleTimeout, example: "75s")
            let head = try duration("headTimeout", default: EntrypointHandler.defaultHeadTimeout, example: "10s")
            return .stream(EntrypointHandler(registry: tunnels, fixedTunnel: spec.options.metadata["tunnel.id"] ?? spec.options.metadata["tunnel"], idleTimeout: idle, headTimeout: head))
        }
        r.requiresTLS13.insert("tunnel")
        // `tunnel://:8443?entrypoint=:80` also opens the public entrypoint, as GOST does.
        r.companions["tunnel"] = { service in
            let meta = (service.metadata ?? Metadata()).values.merging((service.handler.metadata ?? Metadata()).values) { $1 }
            guard let entrypoint = meta["entrypoint"], !entrypoint.isEmpty else { return [] }
            var timeouts: [String: String] = [:]
            timeouts["idleTimeout"] = meta["entrypoint.idleTimeout"]
            timeouts["headTimeout"] = meta["entrypoint.headTimeout"]
            return [ServiceConfig(name: "\(service.name)-entrypoint", addr: entrypoint, handler: HandlerConfig(type: "entrypoint", metadata: timeouts.isEmpty ? nil : Metadata(timeouts)), listener: ListenerConfig(type: "tcp"))]
        }
        return r
    }
}
