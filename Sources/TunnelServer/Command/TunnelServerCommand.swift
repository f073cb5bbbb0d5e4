import ArgumentParser
import EngineCLI
import Foundation
import Logging
import NIOCore
import Operations
import ServiceLifecycle
import Shared
import TunnelProtocol

/// `tunnel-server`: the public relay. With no services given it starts the relay on embedded
/// defaults (agent endpoint over TLS, public HTTP/TLS entrypoint), creating its state on first start.
public struct TunnelServerCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "tunnel-server",
        abstract: "The public relay of the tunnel, and a GOST-style proxy/forwarder.",
        subcommands: [RelayStatusCommand.self])

    @OptionGroup var options: EngineOptions

    @Option(help: ArgumentHelp("Where the CA, certificate and agent token live.", valueName: "dir"))
    var stateDir: String = RelayState.defaultDirectory

    @Option(help: ArgumentHelp("Agent endpoint (TLS) of the embedded relay.", valueName: "host:port"))
    var agentAddr: String = RelayDefaults.agentAddress

    @Option(help: ArgumentHelp("Public entrypoint (HTTP by Host, TLS by SNI) of the embedded relay.", valueName: "host:port"))
    var publicAddr: String = RelayDefaults.publicAddress

    @Option(help: ArgumentHelp("A TLS-only public port (HTTPS): TLS is terminated for hostnames the relay has a certificate for, other names pass through by SNI, and agents may attach here too (by ALPN).", valueName: "host:port"))
    var httpsAddr: String?

    @Option(help: ArgumentHelp("A certificate chain (PEM, leaf first) the relay terminates TLS with for every DNS name it covers; reloaded when the file changes (repeatable, paired with --tls-key).", valueName: "file"))
    var tlsCert: [String] = []

    @Option(help: ArgumentHelp("The private key (PEM) of the --tls-cert in the same position.", valueName: "file"))
    var tlsKey: [String] = []

    @Flag(help: "Answer plain-HTTP requests with a 308 redirect to https:// for every hostname the relay holds a certificate for (a rule's redirectHTTPS overrides).")
    var redirectHttps = false

    @Option(help: ArgumentHelp("Send Strict-Transport-Security with this max-age on responses served over the relay's TLS (a rule's hstsMaxAge overrides).", valueName: "seconds"))
    var hstsMaxAge: Int?

    @Option(help: ArgumentHelp("Get certificates from an ACME CA (Let's Encrypt by default) for every exact hostname of an ingress rule or an accepted agent claim, with this contact address; HTTP-01 is answered on the public entrypoint, TLS-ALPN-01 on the HTTPS port.", valueName: "addr"))
    var acmeEmail: String?

    @Option(help: ArgumentHelp("The ACME directory URL (default: Let's Encrypt production).", valueName: "url"))
    var acmeDirectory: String?

    @Flag(help: "Use Let's Encrypt's staging directory (untrusted certificates, generous rate limits) instead of production.")
    var acmeStaging = false

    @Option(help: ArgumentHelp("Also trust this CA (PEM) for the ACME directory's own TLS (a private ACME server).", valueName: "pem"))
    var acmeCaFile: String?

    @Option(help: ArgumentHelp("A command for DNS-01 (needed for wildcard hostnames), called as lego's exec provider: <cmd> present|cleanup <fqdn> <value>.", valueName: "cmd"))
    var acmeDnsHook: String?

    @Option(help: ArgumentHelp("The challenge tried first for a single name: http-01 (on the public entrypoint) or tls-alpn-01 (on the HTTPS port); the other is the fallback.", valueName: "type"))
    var acmeChallenge: String = "http-01"

    @Option(help: ArgumentHelp("A load balancer in front of the public ports (CIDR, repeatable): its connections start with a PROXY protocol header (v1 or v2) whose source address is the visitor's, for policy and X-Forwarded-For. No one else's header is read.", valueName: "cidr"))
    var trustedProxies: [String] = []

    @Option(help: ArgumentHelp("A YAML file of agent tokens and what each may claim (tunnels, hostnames, ports).", valueName: "file"))
    var tokens: String?

    @Option(help: ArgumentHelp("TCP ports agents may ask the relay to open (rtcp).", valueName: "low-high"))
    var ports: String = "1024-65535"

    @Option(help: ArgumentHelp("The address the rtcp/rudp ports agents open listen on (default: every IPv4 address).", valueName: "ip"))
    var portsAddr: String = "0.0.0.0"

    @Option(help: ArgumentHelp("The name or address agents use to reach this relay (printed in the attach command).", valueName: "host"))
    var advertise: String = "127.0.0.1"

    @Option(help: ArgumentHelp("On SIGTERM/SIGINT (and POST /api/drain, without exiting) agent sessions get GOAWAY and their open streams this long to finish; agents open new sessions at once.", valueName: "duration"))
    var drainTimeout: String = RelayDefaults.drainTimeout.goDuration

    @Option(help: ArgumentHelp("An agent session that has not registered (sent its hello) by then is closed and counted as a failure.", valueName: "duration"))
    var registrationTimeout: String = RelayDefaults.registrationTimeout.goDuration

    @Option(help: ArgumentHelp("The embedded public entrypoint closes an HTTP connection idle this long between requests (408 if a request head is still incomplete); entrypoint services take metadata idleTimeout.", valueName: "duration"))
    var httpIdleTimeout: String = RelayDefaults.httpIdleTimeout.goDuration

    @Option(help: ArgumentHelp("The embedded public entrypoint answers 408 and closes an HTTP connection whose request head is not complete this long after it started, however slowly it dribbles (nginx's client_header_timeout); entrypoint services take metadata headTimeout.", valueName: "duration"))
    var httpHeadTimeout: String = RelayDefaults.httpHeadTimeout.goDuration

    @Option(help: ArgumentHelp("The most public connections (entrypoints and rtcp ports together) held at once; 0 = no cap. Default: three quarters of the file-descriptor limit, so agents can always attach.", valueName: "n"))
    var maxPublicConns: Int?

    @Option(help: ArgumentHelp("The most public connections one source address holds at once; 0 = no cap.", valueName: "n"))
    var maxPublicConnsPerIp: Int = RelayDefaults.maxPublicConnectionsPerAddress

    @Option(help: ArgumentHelp("Require agents to present a TLS client certificate signed by this CA (mTLS; tokens still apply when configured).", valueName: "file"))
    var clientCa: String?

    @Option(help: ArgumentHelp("With the admin API on (-api), the request inspector keeps this many of each tunnel's latest HTTP requests (heads, sizes, timing); 0 = off.", valueName: "n"))
    var inspectRequests: Int = 100

    @Option(help: ArgumentHelp("The inspector also keeps up to this many bytes of each request and answer body (0 = no bodies: they may hold secrets; replay needs the whole request body).", valueName: "bytes"))
    var inspectBodyLimit: Int = 0

    @Option(help: ArgumentHelp("A tunnel the inspector never records (sensitive traffic; repeatable).", valueName: "tunnel"))
    var inspectExclude: [String] = []

    @OptionGroup(title: "Cluster") var cluster: ClusterOptions

    public func run() async throws {
        let stateDir = self.stateDir
        guard let drain = GoDuration.parse(drainTimeout), drain >= .zero else {
            throw ValidationError("--drain-timeout takes a duration, e.g. 30s")
        }
        guard let registration = GoDuration.parse(registrationTimeout), registration > .zero else {
            throw ValidationError("--registration-timeout takes a duration, e.g. 10s")
        }
        guard GoDuration.parse(httpIdleTimeout).map({ $0 > .zero }) == true else {
            throw ValidationError("--http-idle-timeout takes a duration, e.g. 75s")
        }
        let httpIdleTimeout = self.httpIdleTimeout
        guard GoDuration.parse(httpHeadTimeout).map({ $0 > .zero }) == true else {
            throw ValidationError("--http-head-timeout takes a duration, e.g. 10s")
        }
        let httpHeadTimeout = self.httpHeadTimeout
        guard maxPublicConnsPerIp >= 0, (maxPublicConns ?? 0) >= 0 else {
            throw ValidationError("--max-public-conns and --max-public-conns-per-ip take a count (0 = no cap)")
        }
        let descriptors = FileLimits.raiseToHardLimit()
        let publicLimiter = ConnectionLimiter(maxTotal: maxPublicConns ?? max(64, descriptors * 3 / 4), maxPerAddress: maxPublicConnsPerIp)
        if let clientCa, !FileManager.default.isReadableFile(atPath: clientCa) {
            throw ValidationError("--client-ca: cannot read \(clientCa)")
        }
        // The `etcd:` section of a -C file, read before the engine is (joining comes first).
        var etcdSection: EtcdSection?
        if options.configFile != nil {
            do {
                let file = try options.config(registry: Registry.standard.withTunnel(LocalTunnelDirectory()))
                try file.sections[EtcdSection.self]?.validate()
                etcdSection = file.sections[EtcdSection.self]
            } catch {
                FileHandle.standardError.write(Data("tunnel-server: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let clusterSettings = try cluster.settings(stateDir: stateDir, section: etcdSection)
        let tunnels = LocalTunnelDirectory()
        let range = ports.split(separator: "-").compactMap { Int($0) }
        guard range.count == 2, range[0] >= 1, range[0] <= range[1], range[1] <= 65535 else {
            throw ValidationError("--ports takes low-high, e.g. 20000-30000")
        }
        var policy: TokenPolicy
        do {
            policy = try tokens.map { try TokenPolicy.load(path: $0) } ?? TokenPolicy()
            // Who holds which tunnel and port survives restarts (written once the state
            // directory exists), so no token can take another's in the gap.
            policy.owners = try ClaimOwners(file: stateDir + "/claims.json")
            for warning in policy.warnings { FileHandle.standardError.write(Data("tunnel-server: warning: \(warning)\n".utf8)) }
        } catch {
            FileHandle.standardError.write(Data("tunnel-server: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard (try? SocketAddress(ipAddress: portsAddr, port: 0)) != nil else {
            throw ValidationError("--ports-addr takes an IP address, e.g. 127.0.0.1 or ::, got \"\(portsAddr)\"")
        }
        // The visitor policy's one decision point, for the entrypoints and the agents' ports alike.
        let gate = VisitorGate()
        guard (0...100_000).contains(inspectRequests), (0...(16 << 20)).contains(inspectBodyLimit) else {
            throw ValidationError("--inspect-requests takes 0 to 100000, --inspect-body-limit 0 to 16 MiB")
        }
        let inspector = RequestInspector(settings: .init(perTunnel: inspectRequests, bodyLimit: inspectBodyLimit, excluded: Set(inspectExclude)))
        let observers = RelayObservers(inspector: inspector)
        let remotePorts = RemotePorts(directory: tunnels, allowed: range[0]...range[1], bindHost: portsAddr, limiter: publicLimiter, gate: gate, loggerLabel: "tunnel-server")
        let agentAddr = self.agentAddr
        let publicAddr = self.publicAddr
        let advertise = self.advertise
        let clientCA = self.clientCa
        let tokensFile = self.tokens
        do {
            _ = try TrustedProxies(parsing: trustedProxies, path: "--trusted-proxies")
        } catch {
            throw ValidationError("\(error)")
        }
        let trusted = trustedProxies.joined(separator: ",")
        if let hstsMaxAge, hstsMaxAge < 0 { throw ValidationError("--hsts-max-age takes seconds (0 or more)") }
        if let httpsAddr, (try? HostPort(parsing: httpsAddr)) == nil { throw ValidationError("--https-addr takes host:port, e.g. :443") }
        let https = HTTPSSettings(relayNames: HostPort(host: advertise, port: 0).isIPLiteral ? [] : [advertise], redirectHTTPS: redirectHttps, hstsMaxAge: hstsMaxAge,
            httpsPort: try httpsAddr.map { try HostPort(parsing: $0).port })
        let certificateFiles = CertificateFiles(store: https.certificates)
        let acme = try acmeSettings(stateDir: stateDir).map { settings in
            ACMEManager(
                settings: settings, store: https.certificates, tokens: https.tokens,
                skip: { [tunnels] name in tunnels.options(forHost: name)?.tls == .passthrough }, logger: Logger(label: "tunnel-server.acme"))
        }
        if let acme { tunnels.observeHostnames { acme.want($0) } }
        guard tlsCert.count == tlsKey.count else { throw ValidationError("--tls-cert and --tls-key go in pairs") }
        for (cert, key) in zip(tlsCert, tlsKey) {
            do {
                try certificateFiles.load(pattern: nil, certFile: cert, keyFile: key)
            } catch {
                throw ValidationError("--tls-cert \(cert): \(error)")
            }
        }
        let httpsAddr = self.httpsAddr
        let policyBox = TokenPolicyBox(policy)
        let registrationTimeout = TimeAmount.nanoseconds(Int64(registration / .nanoseconds(1)))
        let registry = Registry.standard.withTunnel(
            tunnels, ports: remotePorts, policy: policy, registrationTimeout: registrationTimeout, publicLimiter: publicLimiter,
            https: https, certificateFiles: certificateFiles, gate: gate, observers: observers, policyBox: policyBox)
        let hooks = Self.reloadHooks(
            tunnels: tunnels, policyBox: policyBox, tokensFile: tokensFile, certificateFiles: certificateFiles, https: https, clientCA: clientCA)
        var relayCluster: RelayCluster?
        if let clusterSettings {
            do {
                relayCluster = try await RelayCluster.join(
                    clusterSettings, stateDir: stateDir, hostnames: ["localhost", advertise], peerAddr: cluster.peerAddress(section: etcdSection), advertise: advertise, directory: tunnels,
                    traffic: observers.traffic, drainTimeout: drain, ports: remotePorts, logger: Logger(label: "tunnel-server.cluster"))
            } catch {
                FileHandle.standardError.write(Data("tunnel-server: cannot join the cluster: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let clusterServices: [any Service] = relayCluster.map { [$0] } ?? []
        let joined = relayCluster
        let code = await EngineMain.run(
            options, program: "tunnel-server", registry: registry,
            defaults: {
                let state = try RelayState.loadOrCreate(directory: stateDir, hostnames: ["localhost", advertise])
                return Self.relayDefaults(state: state, agentAddr: agentAddr, publicAddr: publicAddr, advertise: advertise, clientCA: clientCA, httpIdleTimeout: httpIdleTimeout, httpHeadTimeout: httpHeadTimeout, tokensFile: tokensFile, httpsAddr: httpsAddr, trustedProxies: trusted)
            },
            adminAPI: { _, api in
                inspector.enable()
                return RelayAdminAPI(directory: tunnels, ports: remotePorts, observers: observers, prefix: api.pathPrefix, cluster: joined)
            },
            reloadHooks: hooks,
            extraServices: { config, logger in
                if let clientCA { Self.requireClientCertificates(clientCA, in: &config) }
                return [RelayDrainService(sessions: tunnels.agents, drainTimeout: drain, logger: logger), certificateFiles] + (acme.map { [$0] } ?? []) + clusterServices
            })
        await relayCluster?.shutdown()
        if code != 0 { throw ExitCode(code) }
    }

    /// What a reload (SIGHUP, `POST /api/reload`) re-reads beside the services: the tokens file
    /// (sessions of tokens no longer there are closed), the config's ingress rules (swapped in
    /// one step; agents' claims and the API's rules stay), and certificate files that changed.
    static func reloadHooks(
        tunnels: LocalTunnelDirectory, policyBox: TokenPolicyBox, tokensFile: String?, certificateFiles: CertificateFiles, https: HTTPSSettings, clientCA: String?
    ) -> ReloadHooks {
        let logger = Logger(label: "tunnel-server.reload")
        var adjust: (@Sendable (inout Config) -> Void)?
        if let clientCA { adjust = { config in Self.requireClientCertificates(clientCA, in: &config) } }
        return ReloadHooks(
            scratchRegistry: {
                let scratch = HTTPSSettings(relayNames: https.relayNames)
                return Registry.standard.withTunnel(
                    LocalTunnelDirectory(), policy: policyBox.current, https: scratch, certificateFiles: CertificateFiles(store: scratch.certificates), gate: VisitorGate())
            },
            validate: { _ in
                if let tokensFile { _ = try TokenPolicy.load(path: tokensFile) }
            },
            apply: { config in
                var changes: [String] = []
                if let tokensFile {
                    var fresh = try TokenPolicy.load(path: tokensFile)
                    fresh.owners = policyBox.current.owners
                    let admitted = fresh.principals.union(["operator"])
                    policyBox.replace(fresh)
                    changes.append("tokens: \(fresh.rights.count) from \(tokensFile)")
                    for (session, info) in tunnels.agents.described {
                        guard let principal = info.principal, !admitted.contains(principal) else { continue }
                        logger.notice("closing the session of a token no longer in the tokens file", metadata: ["session": "\(info.id)", "token": "\(principal)"])
                        _ = session.close()
                        changes.append("session \(info.id) closed: its token \(principal) is gone")
                    }
                }
                let entries = try ConfiguredIngress.entries(of: config)
                tunnels.clearConfigured()
                try ConfiguredIngress.apply(entries, to: tunnels, certificateFiles: certificateFiles)
                changes.append("rules: \(entries.count) from the config")
                let reloaded = certificateFiles.reloadChanged()
                if reloaded > 0 { changes.append("certificates: \(reloaded) reloaded") }
                return changes
            },
            adjust: adjust)
    }

    /// The ACME settings the flags give, nil without `--acme-email`.
    func acmeSettings(stateDir: String) throws -> ACMESettings? {
        guard let email = acmeEmail else {
            if acmeDirectory != nil || acmeStaging || acmeCaFile != nil || acmeDnsHook != nil {
                throw ValidationError("--acme-directory, --acme-staging, --acme-ca-file and --acme-dns-hook need --acme-email")
            }
            return nil
        }
        guard email.contains("@") else { throw ValidationError("--acme-email takes an email address, got \"\(email)\"") }
        if acmeStaging && acmeDirectory != nil { throw ValidationError("--acme-staging and --acme-directory exclude each other") }
        guard ["http-01", "tls-alpn-01"].contains(acmeChallenge) else { throw ValidationError("--acme-challenge takes http-01 or tls-alpn-01") }
        if let acmeCaFile, !FileManager.default.isReadableFile(atPath: acmeCaFile) { throw ValidationError("--acme-ca-file: cannot read \(acmeCaFile)") }
        if let acmeDnsHook, !FileManager.default.isExecutableFile(atPath: acmeDnsHook) { throw ValidationError("--acme-dns-hook: \(acmeDnsHook) is not an executable file") }
        let directory = acmeDirectory ?? (acmeStaging ? ACMESettings.letsEncryptStaging : ACMESettings.letsEncrypt)
        guard let url = URL(string: directory), url.scheme == "https" else { throw ValidationError("--acme-directory takes an https:// URL, got \"\(directory)\"") }
        return ACMESettings(email: email, directoryURL: directory, caFile: acmeCaFile, dnsHook: acmeDnsHook, preferTLSALPN: acmeChallenge == "tls-alpn-01", stateDirectory: stateDir)
    }

    /// `--client-ca` on a relay given by -L/-C: every `tunnel` service's TLS listener requires agent
    /// certificates from that CA (as its `caFile` would).
    static func requireClientCertificates(_ ca: String, in config: inout Config) {
        guard var services = config.services else { return }
        for i in services.indices where services[i].handler.type == "tunnel" && services[i].listener.type == "tls" {
            var tls = services[i].listener.tls ?? TLSConfig()
            if tls.certFile == nil, let meta = services[i].listener.metadata {
                tls.certFile = meta["certFile"] ?? meta["cert"]
                tls.keyFile = meta["keyFile"] ?? meta["key"]
            }
            tls.caFile = ca
            services[i].listener.tls = tls
        }
        config.services = services
    }

    /// With a tokens file, only its tokens (with their rights) admit agents: the generated token
    /// would otherwise be a second, unrestricted key the operator did not ask for.
    static func relayDefaults(state: RelayState, agentAddr: String, publicAddr: String, advertise: String, clientCA: String? = nil, httpIdleTimeout: String = RelayDefaults.httpIdleTimeout.goDuration, httpHeadTimeout: String = RelayDefaults.httpHeadTimeout.goDuration, tokensFile: String? = nil, httpsAddr: String? = nil, trustedProxies: String = "") -> (Config, String) {
        var entryMetadata = ["idleTimeout": httpIdleTimeout, "headTimeout": httpHeadTimeout]
        if !trustedProxies.isEmpty { entryMetadata["trustedProxies"] = trustedProxies }
        let agents = ServiceConfig(
            name: "agents", addr: agentAddr,
            handler: HandlerConfig(type: "tunnel", metadata: tokensFile == nil ? Metadata(["tokens": state.token]) : nil),
            listener: ListenerConfig(type: "tls", tls: TLSConfig(certFile: state.certificateFile, keyFile: state.keyFile, caFile: clientCA)))
        let entry = ServiceConfig(name: "public", addr: publicAddr, handler: HandlerConfig(type: "entrypoint", metadata: Metadata(entryMetadata)), listener: ListenerConfig(type: "tcp"))
        var services = [agents, entry]
        if let httpsAddr {
            services.append(ServiceConfig(name: "https", addr: httpsAddr, handler: HandlerConfig(type: "entrypoint", metadata: Metadata(entryMetadata.merging(["https": "true"]) { $1 })), listener: ListenerConfig(type: "tcp")))
        }
        let agentPort = (try? HostPort(parsing: agentAddr).port) ?? 8443
        let publicPort = (try? HostPort(parsing: publicAddr).port) ?? 8080
        let banner = """
            tunnel-server: relay on embedded defaults (state in \(state.directory)\(state.created ? ", created now" : ""))
              agents connect to  \(agentAddr) (TLS; certificate sha256 \(state.fingerprint))
              public entrypoint  \(publicAddr) (HTTP routed by Host, TLS routed by SNI)\(httpsAddr.map { "\n  HTTPS entrypoint   \($0) (TLS terminated for names with a certificate, else passed through by SNI; agents too)" } ?? "")
            attach an agent that exposes a local web server as app.localhost:
              tunnel-agent --relay \(advertise):\(agentPort) --token \(tokensFile == nil ? state.token : "<a token from \(tokensFile!)>") --pin \(state.fingerprint) --expose 127.0.0.1:8000 --hostname app.localhost
              (behind an HTTP proxy add -F http://user:pass@proxy:3128; where only HTTP(S) gets through use
               --relay ws://\(advertise):\(publicPort)/_tunnel/agent, or wss:// to the HTTPS entrypoint or a proxy in front)
            then:
              curl -H 'Host: app.localhost' http://127.0.0.1:\(publicPort)/

            """
        return (Config(services: services), banner)
    }
}
