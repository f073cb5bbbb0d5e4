import Logging
import NIOCore
import Shared
import TunnelProtocol

extension Registry {
    /// The standard registry plus the relay's handlers: `tunnel` (agent endpoint) and `entrypoint`
    /// (public HTTP/TLS), sharing one `TunnelDirectory`; `socks5` also serves GOST's rtcp/rudp
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
    ///
    /// `agents` is where the `tunnel` service registers itself so that entrypoints can hand it
    /// agents that come in on their ports (the HTTPS port by ALPN, a WebSocket). With `https`,
    /// entrypoints terminate TLS for the names it has certificates for; rules' `certFile`/`keyFile`
    /// are loaded into it through `certificateFiles` (which watches them).
    public func withTunnel(_ tunnels: any TunnelDirectory, ports: RemotePorts? = nil, policy: TokenPolicy = TokenPolicy(), registrationTimeout: TimeAmount = RelayDefaults.registrationTimeout, publicLimiter: ConnectionLimiter? = nil, agents: AgentAttachPoint = AgentAttachPoint(),
        https: HTTPSSettings? = nil, certificateFiles: CertificateFiles? = nil
    ) -> Registry {
        withTunnel(
            tunnels, ports: ports, policy: policy, registrationTimeout: registrationTimeout, publicLimiter: publicLimiter, agents: agents, https: https,
            certificateFiles: certificateFiles, gate: VisitorGate())
    }

    /// As above, with the visitor gate every entrypoint asks (shared with the relay's ports).
    func withTunnel(
        _ tunnels: any TunnelDirectory, ports: RemotePorts? = nil, policy: TokenPolicy = TokenPolicy(), registrationTimeout: TimeAmount = RelayDefaults.registrationTimeout,
        publicLimiter: ConnectionLimiter? = nil, agents: AgentAttachPoint = AgentAttachPoint(), https: HTTPSSettings? = nil, certificateFiles: CertificateFiles? = nil,
        gate: VisitorGate, observers: RelayObservers? = nil, policyBox: TokenPolicyBox? = nil
    ) -> Registry {
        let policyBox = policyBox ?? TokenPolicyBox(policy)
        var r = self
        if let observers { ports?.countTraffic(into: observers.traffic) }
        r.declare(TunnelHandlerOptions.self)
        r.declare(EntrypointOptions.self)
        r.declare(RelaySOCKS5Options.self)
        r.configSections.append(IngressesSection.self)
        r.configSections.append(EtcdSection.self)
        r.traits["entrypoint", default: HandlerTraits()].connectionLimiter = publicLimiter
        r.handlers["tunnel"] = { spec in
            let options = try TunnelHandlerOptions(metadata: spec.options.metadata)
            // This service's own tokens (metadata, auth) join the file's, whichever is in force.
            var extra: [String: TokenRights] = [:]
            for t in options.tokens { extra[t] = .all }
            if let auth = spec.options.auth { extra[auth.password] = .all }
            // GOST's `tunnel=host:id,host2:id2` rules and the `ingresses` entry it names.
            try ConfiguredIngress.apply(ConfiguredIngress.entries(options: options, sections: spec.sections), to: tunnels, certificateFiles: certificateFiles)
            let timeout = options.registrationTimeout ?? registrationTimeout
            let own = extra
            let servicePolicy: @Sendable () -> TokenPolicy = {
                var p = policyBox.current
                p.rights.merge(own) { _, mine in mine }
                return p
            }
            servicePolicy().owners.addLive(servicePolicy().principals)
            let handler = RelayAgentHandler(directory: tunnels, policySource: servicePolicy, ports: ports, registrationTimeout: timeout)
            if let tls = spec.listenerTLS { try agents.register(service: spec.service, handler: handler, tls: tls) }
            return .stream(handler)
        }
        let owners = SOCKS5BindOwners()
        r.handlers["socks5"] = { spec in
            .stream(RelaySOCKS5Handler(options: spec.options, auth: spec.auth, directory: tunnels, ports: ports, owners: owners, claims: policyBox.current.owners))
        }
        r.handlers["socks"] = r.handlers["socks5"]
        // `entrypoint` routes by Host/SNI; with `metadata.tunnel.id` (or `tunnel`) it is a plain TCP
        // entrypoint whose every connection goes to that one tunnel.
        r.handlers["entrypoint"] = { spec in
            let options = try EntrypointOptions(metadata: spec.options.metadata)
            return .stream(EntrypointHandler(directory: tunnels, fixedTunnel: options.fixedTunnel, idleTimeout: options.idleTimeout, headTimeout: options.headTimeout, agents: agents, https: https, tlsOnly: options.tlsOnly, gate: gate,
                    trustedProxies: options.trustedProxies, observers: observers))
        }
        // Only our agents dial the agent endpoint, so it takes TLS 1.3 only; and
        // `tunnel://:8443?entrypoint=:80` also opens the public entrypoint, as GOST does.
        r.traits["tunnel", default: HandlerTraits()].requiresTLS13 = true
        r.traits["tunnel", default: HandlerTraits()].applicationProtocols = [TunnelMessages.agentALPN]
        r.traits["tunnel", default: HandlerTraits()].companions = { service in
            TunnelHandlerOptions.companionEntrypoint(of: service).map { [$0] } ?? []
        }
        return r
    }
}
