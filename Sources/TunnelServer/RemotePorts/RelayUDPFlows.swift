import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Operations
import NIOPosix
import Shared

/// rudp on the relay: UDP ports agents ask for. Each client address of a port is a flow; its
/// datagrams travel as Mux datagrams (never behind stream flow control, dropped rather than queued
/// under pressure), labelled with a flow ID and prefixed with the relay port (2 bytes, so the agent
/// knows which of its tunnels the flow belongs to). Flows idle for `idleTimeout` are forgotten.
///
/// A flow belongs to the one session it was given to: a reply is accepted only from that session,
/// so no other connection to the agent port (registered or not) can answer another tenant's UDP
/// clients. Flow IDs are random, not sequential, so they cannot be guessed either.
public final class RelayUDPFlows: Sendable {
    struct Flow {
        var id: UInt32
        var port: Int
        var tunnel: String
        var client: SocketAddress
        var socket: Channel
        var session: MuxSession
        var lastActive: NIODeadline
        /// The tunnel's bandwidth budgets: replies spend them too (and are dropped when a budget
        /// is more than a second in debt), so both directions share the tunnel's rate.
        var budgets: [BandwidthBudget] = []
    }

    struct State {
        var byID: [UInt32: Flow] = [:]
        var byClient: [String: UInt32] = [:]
        var random = SystemRandomNumberGenerator()
        var refused = 0

        /// A fresh flow ID: random, never 0, never one in use.
        mutating func newID() -> UInt32 {
            while true {
                let id = UInt32.random(in: 1...UInt32.max, using: &random)
                if byID[id] == nil { return id }
            }
        }
    }

    public let maxFlows: Int
    public let idleTimeout: TimeAmount
    private let state = NIOLockedValueBox(State())
    /// Where datagram bytes are counted (per-tunnel totals and `tunnel_bytes_total`); set with the
    /// ports' (`RemotePorts.countTraffic`).
    private let traffic = NIOLockedValueBox<TunnelTraffic?>(nil)

    /// Puts each new client address of a port to the visitor policy of its tunnel.
    private let gate: VisitorGate?

    public convenience init(maxFlows: Int = RelayDefaults.maxUDPFlows, idleTimeout: TimeAmount = EngineDefaults.udpIdleTimeout) {
        self.init(maxFlows: maxFlows, idleTimeout: idleTimeout, gate: nil)
    }

    init(maxFlows: Int = RelayDefaults.maxUDPFlows, idleTimeout: TimeAmount = EngineDefaults.udpIdleTimeout, gate: VisitorGate?) {
        self.gate = gate
        self.maxFlows = maxFlows
        self.idleTimeout = idleTimeout
    }

    /// Counts the flows' datagram payloads into `traffic`.
    func countTraffic(into traffic: TunnelTraffic) {
        self.traffic.withLockedValue { $0 = traffic }
    }

    private func count(tunnel: String, toAgent: Int, toVisitor: Int) {
        guard let traffic = traffic.withLockedValue({ $0 }) else { return }
        traffic.carried(tunnel: tunnel, toAgent: toAgent, toVisitor: toVisitor)
        let series = traffic.metrics.streams.series(tunnel: tunnel)
        if toAgent > 0 { series.bytesIn.increment(by: Int64(toAgent)) }
        if toVisitor > 0 { series.bytesOut.increment(by: Int64(toVisitor)) }
    }

    /// A datagram from a public client on a relay UDP port: forward it to a session of the tunnel.
    func fromClient(_ payload: ByteBuffer, client: SocketAddress, port: Int, socket: Channel, tunnel: String, directory: any TunnelDirectory) {
        let key = "\(port)|\(client)"
        let known = state.withLockedValue { s in s.byClient[key].flatMap { s.byID[$0] }.map { !$0.session.isClosed } ?? false }
        var budgets: [BandwidthBudget] = []
        if !known, let gate {
            // A new peer: the tunnel's policies decide before a flow is made (a refused peer's
            // datagrams are dropped, each one counted). A flow holds no connection place.
            guard case .pass(let grant) = gate.admitConnection(source: client, tunnel: tunnel, layers: directory.policies(forTunnel: tunnel)) else { return }
            grant.release()
            budgets = grant.budgets
        }
        let target: (UInt32, MuxSession)? = state.withLockedValue { s in
            if let id = s.byClient[key], var flow = s.byID[id], !flow.session.isClosed {
                flow.lastActive = .now()
                s.byID[id] = flow
                return (id, flow.session)
            }
            guard s.byID.count < maxFlows, let session = directory.session(for: tunnel) else { return nil }
            let id = s.newID()
            s.byID[id] = Flow(id: id, port: port, tunnel: tunnel, client: client, socket: socket, session: session, lastActive: .now(), budgets: budgets)
            s.byClient[key] = id
            return (id, session)
        }
        guard let (id, session) = target else { return }
        var framed = socket.allocator.buffer(capacity: payload.readableBytes + 2)
        framed.writeInteger(UInt16(port))
        framed.writeImmutableBuffer(payload)
        session.sendDatagram(flowID: id, framed)
        count(tunnel: tunnel, toAgent: payload.readableBytes, toVisitor: 0)
    }

    /// A datagram from an agent's session: the reply of flow `id`, back to its client, if and only
    /// if the flow was given to that session. Anything else is dropped (and counted).
    func fromAgent(flowID id: UInt32, payload: ByteBuffer, session: MuxSession) {
        var data = payload
        guard data.readInteger(as: UInt16.self) != nil else { return }
        let flow: Flow? = state.withLockedValue { s in
            guard var f = s.byID[id], f.session === session else {
                s.refused &+= 1
                return nil
            }
            f.lastActive = .now()
            s.byID[id] = f
            return f
        }
        guard let flow, flow.socket.isWritable else { return }
        for budget in flow.budgets where budget.spend(data.readableBytes) > .seconds(1) { return }
        count(tunnel: flow.tunnel, toAgent: 0, toVisitor: data.readableBytes)
        flow.socket.writeAndFlush(AddressedEnvelope(remoteAddress: flow.client, data: data), promise: nil)
    }

    /// Forgets idle flows and flows of closed sessions or sockets.
    func sweep() {
        let cutoff = NIODeadline.now() - idleTimeout
        state.withLockedValue { s in
            for (id, f) in s.byID where f.lastActive < cutoff || f.session.isClosed || !f.socket.isActive {
                s.byID[id] = nil
                s.byClient["\(f.port)|\(f.client)"] = nil
            }
        }
    }

    public var count: Int { state.withLockedValue { $0.byID.count } }

    /// Datagrams dropped because their session does not own the flow they name.
    public var refusedDatagrams: Int { state.withLockedValue { $0.refused } }
}
