import Foundation
import Hummingbird
import Logging
import Operations
import TunnelProtocol

/// The relay's routes of the admin API: agents and their sessions, tunnels with their traffic,
/// ingress rules (added and removed at run time), remote ports, the request inspector with
/// replay, and draining. Each answer is built from snapshots taken under the owners' locks; each
/// change goes through the object that owns the state (the directory, the sessions).
struct RelayAdminAPI: AdminAPI {
    let directory: LocalTunnelDirectory
    let ports: RemotePorts?
    let observers: RelayObservers
    let prefix: String
    /// The cluster this relay is part of (`--etcd`), nil on its own.
    var cluster: RelayCluster? = nil

    var role: String { "relay" }
    var openAPIPaths: [String] { RelayOpenAPI.paths }
    var openAPISchemas: [String] { RelayOpenAPI.schemas }

    func healthCounts() -> (agents: Int, tunnels: Int) {
        (directory.agents.count, directory.snapshot().tunnels.count)
    }

    func addRoutes(to group: AdminRoutes, logger: Logger) {
        let directory = self.directory
        let ports = self.ports
        let observers = self.observers

        group.get("agents") { _, _ in
            JSONResponse.make(["agents": directory.agents.described.map { AdminViews.Agent($0.session, $0.info) }])
        }
        group.delete("agents/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let session = directory.agents.session(id: id) else { return JSONResponse.error(.notFound, "no agent session \(id)") }
            logger.notice("admin API: revoking agent session", metadata: ["session": "\(id)", "peer": "\(session.channel.remoteAddress.map { "\($0)" } ?? "?")"])
            _ = session.close()
            return Response(status: .noContent)
        }
        let cluster = self.cluster
        group.get("cluster") { _, _ in JSONResponse.make(cluster?.report() ?? .disabled) }
        group.get("tunnels") { _, _ in JSONResponse.make(["tunnels": Self.tunnels(directory: directory, traffic: observers.traffic)]) }
        group.get("rules") { _, _ in
            JSONResponse.make(["rules": directory.snapshot().rules.map { AdminViews.Rule(hostname: $0.hostname, tunnel: $0.tunnel, source: $0.source.rawValue) }])
        }
        group.post("rules") { request, context in
            let rule: AdminViews.NewRule
            do {
                rule = try await request.decode(as: AdminViews.NewRule.self, context: context)
            } catch {
                return JSONResponse.error(.badRequest, "expected {\"hostname\": \"app.example.com\", \"tunnel\": \"web\"}")
            }
            if let reason = Self.invalid(rule) { return JSONResponse.error(.badRequest, reason) }
            if let refusal = directory.addRuntimeRule(rule.hostname, tunnel: rule.tunnel) { return JSONResponse.error(.conflict, refusal) }
            logger.notice("admin API: rule added", metadata: ["hostname": "\(rule.hostname)", "tunnel": "\(rule.tunnel)"])
            return JSONResponse.make(AdminViews.Rule(hostname: rule.hostname, tunnel: rule.tunnel, source: "api"), status: .created)
        }
        group.delete("rules/:hostname") { _, context in
            let hostname = context.parameters.get("hostname") ?? ""
            guard directory.removeRule(hostname) else { return JSONResponse.error(.notFound, "no rule for \(hostname)") }
            logger.notice("admin API: rule removed", metadata: ["hostname": "\(hostname)"])
            return Response(status: .noContent)
        }
        group.get("ports") { _, _ in
            JSONResponse.make(["ports": (ports?.snapshot() ?? []).map { AdminViews.Port(port: $0.port, udp: $0.udp, tunnel: $0.tunnel) }])
        }
        group.get("requests") { request, _ in InspectorRoutes.list(request, inspector: observers.inspector) }
        group.get("requests/:id") { _, context in InspectorRoutes.get(id: context.parameters.get("id") ?? "", inspector: observers.inspector) }
        group.post("requests/:id/replay") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let inspector = observers.inspector, let record = inspector.request(id: id) else { return JSONResponse.error(.notFound, "no request \(id) is kept") }
            do {
                let replayed = try await RequestReplayer(directory: directory, inspector: inspector, traffic: observers.traffic, logger: logger).replay(record)
                return JSONResponse.make(replayed)
            } catch let failure as RequestReplayer.Failure {
                return JSONResponse.error(.init(code: failure.status), failure.reason)
            }
        }
        group.post("drain") { _, _ in
            let n = directory.agents.goAwayAll(reason: "relay draining sessions (admin API)")
            logger.notice("admin API: going away on every agent session", metadata: ["sessions": "\(n)"])
            return JSONResponse.make(AdminViews.Drained(sessions: n))
        }
    }

    /// A rule the API refuses before the directory sees it.
    static func invalid(_ rule: AdminViews.NewRule) -> String? {
        let host = rule.hostname
        if host.isEmpty || host.count > 253 { return "hostname must be 1 to 253 characters" }
        let body = host.hasPrefix("*.") ? String(host.dropFirst(2)) : host.hasPrefix(".") ? String(host.dropFirst()) : host
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
        if body.isEmpty || !body.allSatisfy({ allowed.contains($0) }) || body.hasPrefix(".") || body.hasSuffix(".") || body.contains("..") {
            return "hostname \(host) is not a hostname pattern (app.example.com, *.example.org, .example.com)"
        }
        if rule.tunnel.isEmpty || rule.tunnel.count > 128 || rule.tunnel.contains(where: { $0.isWhitespace || $0.isNewline }) {
            return "tunnel must be 1 to 128 characters without spaces"
        }
        return nil
    }

    /// Every tunnel known by a session, a rule or its traffic, with its sessions, hostnames and totals.
    static func tunnels(directory: LocalTunnelDirectory, traffic: TunnelTraffic) -> [AdminViews.Tunnel] {
        let snapshot = directory.snapshot()
        let totals = traffic.totals()
        var ids: [ObjectIdentifier: String] = [:]
        for (session, info) in directory.agents.described { ids[ObjectIdentifier(session)] = info.id }
        let sessionsByTunnel: [String: [String]] = Dictionary(uniqueKeysWithValues: snapshot.tunnels.map { tunnel in
            (tunnel.id, directory.sessions(of: tunnel.id).compactMap { ids[ObjectIdentifier($0)] })
        })
        let hostnames = Dictionary(grouping: snapshot.rules, by: \.tunnel).mapValues { $0.map(\.hostname).sorted() }
        let all = Set(sessionsByTunnel.keys).union(hostnames.keys).union(totals.keys)
        return all.sorted().map { id in
            AdminViews.Tunnel(id: id, sessions: sessionsByTunnel[id] ?? [], hostnames: hostnames[id] ?? [], totals: totals[id] ?? TunnelTraffic.Totals())
        }
    }
}
