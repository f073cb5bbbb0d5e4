import Logging
import Mux
import NIOCore
import NIOPosix
import Shared

/// The agent's side of rudp: one UDP socket per flow towards the tunnel's local target.
final class AgentUDPFlows {
    private struct Flow {
        var channel: Channel?
        var queued: [ByteBuffer] = []
        var lastActive: NIODeadline
    }

    private let targets: [Int: HostPort]
    private let logger: Logger
    private let maxFlows: Int
    private let idleTimeout: TimeAmount
    private var flows: [UInt32: Flow] = [:]
    private var sweeper: RepeatedTask?
    weak var session: MuxSession?

    init(targets: [Int: HostPort], logger: Logger, maxFlows: Int = AgentDefaults.maxUDPFlows, idleTimeout: TimeAmount = EngineDefaults.udpIdleTimeout) {
        self.targets = targets
        self.logger = logger
        self.maxFlows = maxFlows
        self.idleTimeout = idleTimeout
    }

    /// Called on the session's event loop for every datagram from the relay.
    func receive(flowID: UInt32, payload: ByteBuffer, on loop: EventLoop) {
        var data = payload
        guard let port = data.readInteger(as: UInt16.self), let target = targets[Int(port)] else { return }
        if sweeper == nil {
            let bound = NIOLoopBound(self, eventLoop: loop)
            sweeper = loop.scheduleRepeatedTask(initialDelay: idleTimeout, delay: idleTimeout) { _ in bound.value.sweep() }
        }
        if var flow = flows[flowID] {
            flow.lastActive = .now()
            if let channel = flow.channel {
                if channel.isWritable { channel.writeAndFlush(data, promise: nil) }
            } else if flow.queued.count < 32 {
                flow.queued.append(data)
            }
            flows[flowID] = flow
            return
        }
        guard flows.count < maxFlows else { return }
        flows[flowID] = Flow(channel: nil, queued: [data], lastActive: .now())
        let session = self.session
        let bound = NIOLoopBound(self, eventLoop: loop)
        DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AgentUDPReply(flowID: flowID, port: port, session: session))
                }
            }
            .connect(host: target.dialHost, port: target.port)
            .whenComplete { result in
                let flows = bound.value
                switch result {
                case .success(let channel):
                    guard var flow = flows.flows[flowID] else {
                        channel.close(promise: nil)
                        return
                    }
                    for d in flow.queued { channel.write(d, promise: nil) }
                    channel.flush()
                    flow.queued.removeAll()
                    flow.channel = channel
                    flows.flows[flowID] = flow
                case .failure(let error):
                    flows.flows[flowID] = nil
                    flows.logger.warning("rudp: cannot reach local target", metadata: ["target": "\(target)", "error": "\(error)"])
                }
            }
    }

    func sweep() {
        let cutoff = NIODeadline.now() - idleTimeout
        for (id, f) in flows where f.lastActive < cutoff {
            f.channel?.close(promise: nil)
            flows[id] = nil
        }
    }

    func closeAll() {
        sweeper?.cancel()
        for f in flows.values { f.channel?.close(promise: nil) }
        flows.removeAll()
    }
}
