import Logging
import Shared

/// The ingress rules a config gives the relay: GOST's `tunnel=host:id` metadata and the rules of
/// the `ingresses` entry a `tunnel` service names, with their options (TLS, certificate, policy)
/// and path prefixes. Read at start by each `tunnel` service and again, for the whole config, by
/// a reload, which swaps the configured rules in one step (agents' claims and rules the admin
/// API added stay).
enum ConfiguredIngress {
    enum Entry {
        case rule(host: String, tunnel: String, options: RuleOptions?, certificate: (certFile: String, keyFile: String, path: String)?)
        case location(host: String, prefix: String, tunnel: String, policy: VisitorPolicy?)
    }

    /// The entries of one `tunnel` service (paths relative to the service, as its factory reports).
    static func entries(options: TunnelHandlerOptions, sections: ConfigSections) throws -> [Entry] {
        var out: [Entry] = options.rules.map { .rule(host: $0.hostname, tunnel: $0.tunnel, options: nil, certificate: nil) }
        guard let name = options.ingress else { return out }
        guard let ingress = sections[IngressesSection.self]?.named(name) else {
            throw ConfigError(path: "handler.metadata.ingress", reason: "no ingress named \"\(name)\"")
        }
        let index = sections[IngressesSection.self]?.ingresses.firstIndex { $0.name == name } ?? 0
        for (ri, rule) in ingress.rules.enumerated() {
            let path = "ingresses[\(index)].rules[\(ri)]"
            let options = try rule.options(path: path)
            if let locations = rule.locations, !locations.isEmpty {
                // A path-prefix rule routes only those paths; its host's other options (TLS,
                // certificate) come from the host's own rule.
                out += locations.map { .location(host: rule.hostname, prefix: $0, tunnel: rule.endpoint, policy: options.policy) }
                continue
            }
            let certificate = options.certFile.flatMap { cert in options.keyFile.map { (cert, $0, "\(path).certFile") } }
            out.append(.rule(host: rule.hostname, tunnel: rule.endpoint, options: options, certificate: certificate))
        }
        return out
    }

    /// The entries of every `tunnel` service of `config`.
    static func entries(of config: Config) throws -> [Entry] {
        var out: [Entry] = []
        for (si, service) in (config.services ?? []).enumerated() where service.handler.type == "tunnel" {
            var metadata = service.metadata ?? Metadata()
            for (k, v) in (service.handler.metadata ?? Metadata()).values { metadata[k] = v }
            do {
                out += try entries(options: TunnelHandlerOptions(metadata: metadata), sections: config.sections)
            } catch let error as ConfigError where error.path.hasPrefix("handler.") {
                throw ConfigError(path: "services[\(si)].\(error.path)", reason: error.reason)
            }
        }
        return out
    }

    /// Puts `entries` in force in `directory` (adding to what is there), loading rules'
    /// certificates into `certificateFiles`.
    static func apply(_ entries: [Entry], to directory: any TunnelDirectory, certificateFiles: CertificateFiles?) throws {
        for entry in entries {
            switch entry {
            case .location(let host, let prefix, let tunnel, let policy):
                directory.addLocation(host, prefix: prefix, tunnel: tunnel, policy: policy)
            case .rule(let host, let tunnel, let options, let certificate):
                for warning in options?.policy?.warnings ?? [] { Logger(label: "tunnel-server.policy").warning("\(warning)") }
                directory.addRule(host, tunnel: tunnel)
                if let options { directory.setOptions(options, forPattern: host) }
                if let certificate {
                    guard let certificateFiles else { throw ConfigError(path: certificate.path, reason: "this relay does not terminate TLS") }
                    do {
                        try certificateFiles.load(pattern: host, certFile: certificate.certFile, keyFile: certificate.keyFile)
                    } catch {
                        throw ConfigError(path: certificate.path, reason: "\(error)")
                    }
                }
            }
        }
    }
}
