import ArgumentParser
import Crypto
import EngineCLI
import Foundation
import Logging
import Operations
import ServiceLifecycle
import Shared
import TunnelProtocol

/// `tunnel-agent`: the private side. With `--relay` it attaches to a relay and serves tunnels;
/// it also runs GOST-style services and chains (-L/-F/-C) on the same engine.
public struct TunnelAgentCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "tunnel-agent",
        abstract: "The private side of the tunnel, and a GOST-style proxy/forwarder.",
        subcommands: [AgentStatusCommand.self])

    @OptionGroup var options: EngineOptions

    @Option(help: ArgumentHelp("The relay: its agent endpoint (host:port, tls://host:port), or a WebSocket to it (ws://host[:port]/path, wss://host[:port]/path; the relay's path is /_tunnel/agent). With -F the relay is reached through that chain. Several relays of one cluster, comma-separated (a:8443,b:8443): the agent holds sessions to each at once.", valueName: "url[,url...]"))
    var relay: String?

    @Option(help: ArgumentHelp("When --relay names one host that resolves to several addresses (relays of one cluster behind one DNS name), hold sessions to this many of them at once (1 = one relay, as a plain name would).", valueName: "n"))
    var relayCount: Int = 2

    @Option(help: ArgumentHelp("Reach the relay through this chain of the -C file (default: the -F hops, if any).", valueName: "name"))
    var relayChain: String?

    @Option(help: ArgumentHelp("For --relay wss://: verify the outer HTTPS with this CA file (PEM) instead of the system roots.", valueName: "file"))
    var wssCa: String?

    @Option(help: "The agent token the relay printed (or --token-file, or $TUNNEL_TOKEN: an argument is visible to every user in the process list).")
    var token: String = ""

    @Option(help: ArgumentHelp("Read the agent token from this file (its first line).", valueName: "file"))
    var tokenFile: String?

    /// The token: `--token`, else `--token-file`, else `$TUNNEL_TOKEN` (systemd's EnvironmentFile,
    /// a Kubernetes Secret), so it need not sit in the argument list.
    func resolvedToken() throws -> String {
        if !token.isEmpty { return token }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw ValidationError("--token-file: cannot read \(tokenFile)") }
            return String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
        }
        return ProcessInfo.processInfo.environment["TUNNEL_TOKEN"] ?? ""
    }

    @Option(help: ArgumentHelp("SHA-256 of the relay's certificate (as the relay printed it).", valueName: "hex"))
    var pin: String?

    @Option(help: ArgumentHelp("Verify the relay with this CA file instead of a pin.", valueName: "file"))
    var ca: String?

    @Option(help: ArgumentHelp("A client certificate (PEM) to present to the relay, for a relay started with --client-ca (needs --key).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --cert.", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("The local service to expose.", valueName: "host:port"))
    var expose: String?

    @Option(help: ArgumentHelp("A hostname routed to the exposed service (repeatable; *.x and .x are wildcards).", valueName: "name"))
    var hostname: [String] = []

    @Option(help: ArgumentHelp("The tunnel ID (default: derived from the hostnames, so agents exposing the same names share a tunnel).", valueName: "uuid"))
    var tunnelId: String?

    @Option(help: "Sessions to keep open to the relay: new streams survive one dropping, and the relay can serve a connection on its own thread.")
    var sessions: Int = AgentDefaults.sessions

    @Option(help: ArgumentHelp("A TCP port for the relay to open and carry to the exposed service (rtcp; repeatable).", valueName: "port"))
    var remotePort: [Int] = []

    @Option(help: ArgumentHelp("A UDP port for the relay to open and carry to the exposed service (rudp; repeatable).", valueName: "port"))
    var remoteUdpPort: [Int] = []

    @Option(help: ArgumentHelp("Send a PROXY protocol header (v1 or v2) to the exposed service with the public client's address.", valueName: "version"))
    var proxyProtocol: String?

    @Option(help: ArgumentHelp("This agent's share of the tunnel's new streams against other agents of the same tunnel (1-255; 255 = exclusive: it takes them all while connected).", valueName: "n"))
    var weight: Int?

    @Option(help: ArgumentHelp("Ask the relay to require HTTP basic auth of visitors with this user and password (repeatable; the relay's own policy still applies and wins).", valueName: "user:pass"))
    var basicAuth: [String] = []

    @Option(help: ArgumentHelp("Ask the relay to admit only visitors from this CIDR (repeatable; IPv4 or IPv6).", valueName: "cidr"))
    var allow: [String] = []

    @Option(help: ArgumentHelp("Ask the relay to refuse visitors from this CIDR (repeatable).", valueName: "cidr"))
    var deny: [String] = []

    @Option(help: ArgumentHelp("Ask the relay to limit requests (or connections) per visitor address, e.g. 10/s, 600/m.", valueName: "rate"))
    var rateLimit: String?

    @Option(help: ArgumentHelp("Ask the relay to limit the tunnel's bandwidth, all connections and both directions together, e.g. 1MB/s.", valueName: "rate"))
    var bandwidth: String?

    @Option(help: ArgumentHelp("Ask the relay to cap the tunnel's concurrent connections.", valueName: "n"))
    var maxConnections: Int?

    @Option(help: ArgumentHelp("Serve the request inspector, with the admin API (under /api) and the dashboard (at /), on this address, as ngrok's agent does on 127.0.0.1:4040: -api's listener under another name (give one of the two; beyond loopback an `api:` section with auth is required).", valueName: "addr"))
    var inspect: String?

    @Option(help: ArgumentHelp("With the admin API on (--inspect, -api), the request inspector keeps this many of each tunnel's latest HTTP requests (heads, sizes, timing); 0 = off.", valueName: "n"))
    var inspectRequests: Int = 100

    @Option(help: ArgumentHelp("The inspector also keeps up to this many bytes of each request and answer body (0 = no bodies: they may hold secrets; replay needs the whole request body).", valueName: "bytes"))
    var inspectBodyLimit: Int = 0

    public func run() async throws {
        // Checked before anything starts, so a bad flag is a usage error.
        let served = try tunnelConfigurations(chain: nil, warn: true).first
        guard (0...100_000).contains(inspectRequests), (0...(16 << 20)).contains(inspectBodyLimit) else {
            throw ValidationError("--inspect-requests takes 0 to 100000, --inspect-body-limit 0 to 16 MiB")
        }
        var options = self.options
        if let inspect {
            // --inspect is -api's listener by the name ngrok users know: one listener, not two.
            if let api = options.api, api != inspect { throw ValidationError("--inspect and -api both name the admin API's address: give one") }
            options.api = inspect
        }
        let observers = AgentObservers(inspector: RequestInspector(settings: .init(perTunnel: inspectRequests, bodyLimit: inspectBodyLimit)))
        let relay = self.relay ?? ""
        let registry = Registry.standard.withAgentForms()
        let code = await EngineMain.run(
            options, program: "tunnel-agent", registry: registry,
            adminAPI: { _, _ in
                observers.activate()
                return AgentAdminAPI(observers: observers, tunnels: served?.tunnels ?? [], relay: relay)
            },
            extraServices: { config, logger in
                let chain = try relayChain(in: config, registry: registry, logger: logger)
                return try tunnelConfigurations(chain: chain, resolve: true, logger: logger).map { client in
                    var client = client
                    client.observers = observers
                    return TunnelClient(configuration: client, logger: logger)
                }
            })
        if code != 0 { throw ExitCode(code) }
    }

    /// The chain to the relay: `--relay-chain`'s, else the `-F` hops' (`cli-chain`), else none.
    func relayChain(in config: Config, registry: Registry, logger: Logger) throws -> Chain? {
        guard relay != nil else { return nil }
        let name = relayChain ?? (options.forward.isEmpty ? nil : "cli-chain")
        guard let name else { return nil }
        return try EngineBuilder(registry: registry, logger: logger).chain(named: name, in: config)
    }

    /// One client configuration per relay the agent holds sessions to: each of a comma list,
    /// or (with `resolve`) up to `--relay-count` of the addresses one name resolves to.
    func tunnelConfigurations(chain: Chain?, warn: Bool = false, resolve: Bool = false, logger: Logger? = nil) throws -> [TunnelClientConfiguration] {
        guard let relay else {
            if expose != nil { throw ValidationError("--expose needs --relay") }
            if relayChain != nil { throw ValidationError("--relay-chain needs --relay") }
            return []
        }
        guard relayCount >= 1 else { throw ValidationError("--relay-count takes 1 or more") }
        var endpoints: [RelayEndpoint] = []
        for text in relay.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !text.isEmpty {
            do {
                endpoints.append(try RelayEndpoint(parsing: text))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        guard !endpoints.isEmpty else { throw ValidationError("--relay takes one or more relays") }
        if resolve, endpoints.count == 1, relayCount > 1, chain == nil, endpoints[0].transport == .tls, !endpoints[0].address.isIPLiteral {
            let addresses = RelayAddresses.resolve(endpoints[0].address, atMost: relayCount)
            if addresses.count > 1 {
                logger?.info("the relay's name resolves to several addresses: holding sessions to each", metadata: ["relay": "\(endpoints[0].address)", "addresses": "\(addresses.map(\.description).joined(separator: ","))"])
                endpoints = addresses.map { RelayEndpoint(transport: .tls, address: $0) }
            }
        }
        return try endpoints.enumerated().map { i, endpoint in try tunnelConfiguration(endpoint, chain: chain, warn: warn && i == 0) }
    }

    func tunnelConfiguration(_ endpoint: RelayEndpoint, chain: Chain?, warn: Bool) throws -> TunnelClientConfiguration {
        guard let expose else { throw ValidationError("--relay needs --expose host:port") }
        if wssCa != nil, endpoint.transport != .wss { throw ValidationError("--wss-ca is for --relay wss://") }
        let target = try HostPort(parsing: expose)
        if warn, pin == nil && ca == nil {
            FileHandle.standardError.write(Data("tunnel-agent: warning: the relay is not verified (give --pin or --ca)\n".utf8))
        }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        var tls = TLSOptions(certFile: cert, keyFile: key, caFile: ca, serverName: nil, secure: ca != nil, pinSHA256: pin)
        tls.applicationProtocols = [TunnelMessages.agentALPN]
        let dialer: RelayDialer
        do {
            let outer = try RelayDialer.outerTLS(for: endpoint.transport, caFile: wssCa)
            dialer = RelayDialer(endpoint: endpoint, router: Router(chain: chain), tls: try TLSDialer(options: tls), outerTLS: outer)
        } catch {
            throw ValidationError("cannot set up TLS to the relay: \(error)")
        }
        let id = tunnelId ?? Self.derivedID(hostname.isEmpty ? [expose] + remotePort.map { "port:\($0)" } + remoteUdpPort.map { "udp:\($0)" } : hostname)
        var proxy: ProxyProtocol.Version?
        if let proxyProtocol {
            guard let v = ProxyProtocol.Version(rawValue: proxyProtocol) else { throw ValidationError("--proxy-protocol takes v1 or v2") }
            proxy = v
        }
        if let weight, !(1...255).contains(weight) { throw ValidationError("--weight takes 1-255 (255 = exclusive)") }
        var tunnel = TunnelClientConfiguration.Tunnel(
            id: id, hostnames: hostname, target: target, proxyProtocol: proxy, remotePorts: remotePort, remoteUDPPorts: remoteUdpPort, weight: weight)
        tunnel.policy = try visitorPolicy()
        var config = TunnelClientConfiguration(relay: endpoint.address, dialer: dialer, token: try resolvedToken(), tunnels: [tunnel])
        config.sessions = max(1, sessions)
        return config
    }

    /// The visitor policy the flags ask for (the relay checks it: CIDRs, rates), nil when none.
    func visitorPolicy() throws -> VisitorPolicyConfig? {
        var p = VisitorPolicyConfig()
        if !basicAuth.isEmpty {
            var users: [String: String] = [:]
            for pair in basicAuth {
                guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex else { throw ValidationError("--basic-auth takes user:pass, got \"\(pair)\"") }
                users[String(pair[..<colon])] = String(pair[pair.index(after: colon)...])
            }
            p.basicAuth = .init(users: users)
        }
        if !allow.isEmpty { p.allow = allow }
        if !deny.isEmpty { p.deny = deny }
        p.rateLimit = rateLimit.map { .init(rate: $0) }
        p.bandwidth = bandwidth
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections takes 1 or more") }
        p.maxConnections = maxConnections
        return p.isEmpty ? nil : p
    }

    /// A UUID-shaped ID from the hostnames, stable across restarts and agents.
    static func derivedID(_ names: [String]) -> String {
        let digest = Array(SHA256.hash(data: Data(names.sorted().joined(separator: ",").utf8)))
        let hex = digest.prefix(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }
}
