import Hummingbird
import Logging
import NIOPosix
import Operations

/// The agent's routes of the admin API (`--inspect`, -api): the tunnels it serves with their
/// traffic, its live sessions to the relay, and the request inspector with replay to the local
/// service, as ngrok's agent offers on 127.0.0.1:4040. Answers are built from snapshots taken
/// under the owners' locks.
struct AgentAdminAPI: AdminAPI {
    let observers: AgentObservers
    /// The tunnels this agent serves (none without `--relay`).
    let tunnels: [TunnelClientConfiguration.Tunnel]
    /// The relay, as given (`--relay`).
    let relay: String

    var role: String { "agent" }
    var openAPIPaths: [String] { AgentOpenAPI.paths }
    var openAPISchemas: [String] { AgentOpenAPI.schemas }

    func healthCounts() -> (agents: Int, tunnels: Int) {
        (observers.sessions.count, tunnels.count)
    }

    func addRoutes(to group: AdminRoutes, logger: Logger) {
        let observers = self.observers
        let tunnels = self.tunnels
        let relay = self.relay
        group.get("tunnels") { _, _ in JSONResponse.make(["tunnels": Self.tunnels(tunnels, observers: observers)]) }
        group.get("sessions") { _, _ in
            JSONResponse.make(["sessions": observers.sessions.described.map { AgentViews.Session($0.session, $0.info, relay: relay) }])
        }
        group.get("requests") { request, _ in InspectorRoutes.list(request, inspector: observers.inspector) }
        group.get("requests/:id") { _, context in InspectorRoutes.get(id: context.parameters.get("id") ?? "", inspector: observers.inspector) }
        group.post("requests/:id/replay") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let record = observers.inspector.request(id: id) else { return JSONResponse.error(.notFound, "no request \(id) is kept") }
            do {
                let replayer = LocalReplayer(tunnels: tunnels, inspector: observers.inspector, logger: logger)
                return JSONResponse.make(try await replayer.replay(record, on: MultiThreadedEventLoopGroup.singleton.next()))
            } catch let failure as LocalReplayer.Failure {
                return JSONResponse.error(.init(code: failure.status), failure.reason)
            }
        }
    }

    /// Every tunnel this agent serves, with the sessions carrying it (each session registers
    /// them all), its hostnames and its totals.
    static func tunnels(_ tunnels: [TunnelClientConfiguration.Tunnel], observers: AgentObservers) -> [AgentViews.Tunnel] {
        let totals = observers.traffic.totals()
        let sessions = observers.sessions.described
        return tunnels.map { tunnel in
            AgentViews.Tunnel(
                id: tunnel.id, sessions: sessions.filter { $0.info.tunnels.contains(tunnel.id) }.map(\.info.id), hostnames: tunnel.hostnames,
                totals: totals[tunnel.id] ?? TunnelTraffic.Totals())
        }
    }
}
