import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import Shared
import TunnelProtocol

/// The HTTP side of the public entrypoint: every request of a keep-alive connection is routed by
/// its own `Host`, gets `X-Forwarded-For`/`X-Forwarded-Proto`, and is carried on a Mux stream of
/// its tunnel. Consecutive requests for one tunnel share one stream (so the agent keeps one
/// keep-alive connection to the local service); a request for another tunnel waits until the
/// answers before it are complete, then moves the connection to a stream of that tunnel, so
/// responses always come back in request order.
///
/// Only heads and chunk-size lines are parsed (`HTTPFraming`); bodies pass through unbuffered, and
/// after an upgrade (WebSocket, CONNECT) both directions are spliced raw. Backpressure: the public
/// side is read only while the stream is writable, a request is not held up, and fewer than
/// `maxPipelined` answers are outstanding; the stream is read only while the public side is
/// writable. Everything held at once is bounded by one head (`HTTPFraming.maxHead`) and one read.
///
/// The decisions are `HTTPIngressStateMachine`'s; this handler only turns channel events into its
/// events and carries out the actions it returns (writes, reads, opening and closing streams,
/// the timer).
final class HTTPIngressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The stream the requests are carried on now. Touched on this handler's loop only.
    private struct Stream {
        let id: Int
        let channel: Channel
        let handler: CrossLoopRef<HTTPUpstreamHandler>
        /// Its tunnel's bandwidth budgets.
        var budgets: [BandwidthBudget] = []
    }

    private let directory: any TunnelDirectory
    private let logger: Logger
    private let client: String?
    private let server: String?
    private var machine: HTTPIngressStateMachine
    private var context: ChannelHandlerContext?
    private var stream: Stream?
    /// A stream just opened, waiting for the machine to adopt or discard it.
    private var opened: Stream?
    private var nextID = 0
    private var timer: Scheduled<Void>?
    /// The current tunnel's bandwidth, for what the visitor sends (what it gets is paced on the
    /// stream by `BandwidthPacer`).
    private var pacing = ReadPacing()
    /// Takes the connection when the machine hands it over (`ReservedAnswer.takeOver`).
    private let handOver: (@Sendable (Handshake) -> Void)?

    /// The visitor policy's decision point; nil: no policy is applied (tests of routing alone).
    private let gate: VisitorGate?
    /// Counts answered requests per tunnel and keeps them for the inspector; nil: nothing kept.
    private let observers: RelayObservers?
    /// The entrypoint service this connection came to (its requests are counted under it).
    private let service: String?

    init(
        directory: any TunnelDirectory, logger: Logger, client: String?, clientIP: String?, server: String?,
        idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, headTimeout: TimeAmount = RelayDefaults.httpHeadTimeout, scheme: String = "http",
        hstsMaxAge: Int? = nil, reserved: ReservedRequests? = nil, gate: VisitorGate? = nil, source: SocketAddress? = nil,
        observers: RelayObservers? = nil, service: String? = nil, handOver: (@Sendable (Handshake) -> Void)? = nil
    ) {
        self.handOver = handOver
        self.observers = observers
        self.service = service
        self.directory = directory
        self.logger = logger
        self.client = client
        self.server = server
        self.gate = gate
        self.machine = HTTPIngressStateMachine(
            idleTimeout: idleTimeout, headTimeout: headTimeout, client: client, clientIP: clientIP, logger: logger, now: .now(),
            resolve: { [directory] head in head.host.flatMap { directory.route(host: $0, path: head.path) } })
        if let gate {
            self.machine.admit = { head, route in
                gate.admit(VisitorGate.Request(source: source, host: head.host ?? "", field: head.field), tunnel: route.tunnel, layers: route.layers)
            }
        }
        self.machine.scheme = scheme
        if let observers {
            self.machine.observing = true
            self.machine.capture = observers.capture
        }
        if let reserved { self.machine.reserved = { reserved.answer($0) } }
        if let hstsMaxAge { self.machine.responseHeaders = [.init(name: "Strict-Transport-Security", value: "max-age=\(hstsMaxAge)")] }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        run(machine.start(now: .now()))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        pacing.cancel()
        // The stream's handler points back here: let go of it and of any buffered bytes.
        run(machine.removed())
    }

    // MARK: the public connection

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        run(machine.clientRead(self.unwrapInboundIn(data), now: .now()))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            run(machine.clientInputClosed(now: .now()))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.clientInactive())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("http entrypoint: connection error", metadata: ["client": "\(client ?? "")", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        run(machine.clientWritabilityChanged(context.channel.isWritable, now: .now()))
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        run(machine.readRequested())
    }

    // MARK: the stream (called on this handler's loop)

    func upstreamRead(_ id: Int, _ bytes: ByteBuffer) {
        guard context != nil else { return }
        run(machine.upstreamRead(id, bytes, now: .now()))
    }

    func upstreamReadComplete(_ id: Int) {
        // Also for a stream already let go: its last answer may still be queued here.
        context?.flush()
    }

    func upstreamWritabilityChanged(_ id: Int, _ writable: Bool) {
        run(machine.upstreamWritabilityChanged(id, writable, now: .now()))
    }

    func upstreamInputEnded(_ id: Int) {
        guard context != nil else { return }
        run(machine.upstreamInputEnded(id, now: .now()))
    }

    func upstreamEnded(_ id: Int) {
        guard context != nil else { return }
        run(machine.upstreamClosed(id, now: .now()))
    }

    // MARK: carrying out the machine's actions

    private func run(_ actions: [HTTPIngressStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: HTTPIngressStateMachine.Action) {
        switch action {
        case .writeUpstream(let bytes):
            if !pacing.budgets.isEmpty { pacing.spent(bytes.readableBytes, now: .now()) }
            stream?.channel.write(bytes, promise: nil)
        case .flushUpstream:
            stream?.channel.flush()
        case .closeUpstreamOutput:
            stream?.channel.close(mode: .output, promise: nil)
        case .closeUpstream(let id):
            if let s = stream, s.id == id {
                stream = nil
                pacing.budgets = []
                s.channel.close(promise: nil)
            }
        case .openStream(let tunnel, let host, let policies):
            openStream(tunnel: tunnel, host: host, policies: policies)
        case .verify(let check):
            guard let context else { return }
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            check.run(context.eventLoop).whenComplete { result in
                let me = me.value
                guard me.context != nil else { return }
                me.run(me.machine.credentialsChecked((try? result.get()) ?? false, now: .now()))
            }
        case .adoptOpenedStream:
            stream = opened
            pacing.budgets = opened?.budgets ?? []
            if let context, !pacing.budgets.isEmpty { BandwidthBudget.boundReads(of: context.channel, to: pacing.budgets) }
            opened = nil
        case .discardOpenedStream:
            opened?.channel.close(promise: nil)
            opened = nil
        case .startReadingUpstream:
            if let s = stream { s.handler.startReading(s.channel) }
        case .setUpstreamPartnerWritable(let writable):
            stream?.handler.setPartnerWritable(writable)
        case .writeClient(let bytes):
            context?.write(self.wrapOutboundOut(bytes), promise: nil)
        case .flushClient:
            context?.flush()
        case .readClient:
            guard let context else { return }
            if pacing.budgets.isEmpty && pacing.scheduled == nil { return context.read() }
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            if pacing.mayRead(now: .now(), on: context.eventLoop, wake: { me.value.pacedReadDue() }) { context.read() }
        case .respondAndClose(let page):
            guard let context else { return }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(page)).whenComplete { _ in channel.close(promise: nil) }
        case .closeClientAfterFlush:
            guard let context else { return }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in channel.close(promise: nil) }
        case .closeClient:
            context?.close(promise: nil)
        case .closeClientOutput:
            guard let context else { return }
            let channel = context.channel
            context.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        case .handOver(let bytes):
            guard let context else { return }
            timer?.cancel()
            timer = nil
            // A reader behind this handler gets the request and what followed; this handler
            // leaves, and reads (which it may have been holding back) resume for the new owner.
            let reader = HandshakeReader()
            do {
                try context.pipeline.syncOperations.addHandler(reader, position: .after(self))
            } catch {
                return context.close(promise: nil)
            }
            context.fireChannelRead(NIOAny(bytes))
            let channel = context.channel
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            guard let handOver else { return channel.close(promise: nil) }
            handOver(Handshake(channel: channel, reader: reader))
            channel.read()
        case .exchangeFinished(let exchange):
            observers?.finished(exchange, client: client, service: service, now: .now())
        case .scheduleTimer(let deadline):
            guard let context else { return }
            timer?.cancel()
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: deadline) { me.value.timerFired() }
        }
    }

    /// The tunnel's budget allows the read put off.
    private func pacedReadDue() {
        pacing.woke()
        context?.read()
    }

    private func timerFired() {
        timer = nil
        guard context != nil else { return }
        run(machine.timerFired(now: .now()))
    }

    /// Opens a stream of `tunnel` on one of its sessions and reports the outcome to the machine.
    private func openStream(tunnel: String, host: String, policies: [VisitorPolicy]) {
        guard let context else { return }
        guard let session = directory.session(for: tunnel, near: context.eventLoop) else {
            return run(machine.streamUnavailable())
        }
        // The tunnel's connection limit counts streams: this one holds a place until it closes.
        let leases: [ConnectionCounter.Lease]
        switch gate?.leases(tunnel: tunnel, layers: policies, source: context.channel.remoteAddress, host: host) ?? .success([]) {
        case .success(let granted): leases = granted
        case .failure(let refusal): return run(machine.streamRefused(refusal))
        }
        let budgets = policies.budgets
        let ingress = CrossLoopRef(self, on: context.eventLoop)
        let header = TunnelMessages.StreamHeader(tunnel: tunnel, client: client, host: host, server: server)
        let publicWritable = context.channel.isWritable
        // Each open attempt gets its own handler and ID, so events of a stream that failed to
        // open can never touch the one that did.
        let attempts = NIOLockedValueBox<(next: Int, made: (Int, CrossLoopRef<HTTPUpstreamHandler>)?)>((nextID, nil))
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        EntrypointHandler.openStream(session: session, header: header, directory: directory, near: context.eventLoop, logger: logger, traffic: observers?.traffic) { stream in
            let id = attempts.withLockedValue { a in
                a.next += 1
                return a.next
            }
            let handler = HTTPUpstreamHandler(id: id, ingress: ingress, partnerWritable: publicWritable)
            // The tunnel's bandwidth: what the stream delivers is paced by reads held back.
            for budget in budgets { try stream.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget)) }
            try stream.pipeline.syncOperations.addHandler(handler)
            attempts.withLockedValue { $0.made = (id, CrossLoopRef(handler, on: stream.eventLoop)) }
        }.hop(to: context.eventLoop).whenComplete { result in
            let me = me.value
            let made = attempts.withLockedValue { $0 }
            me.nextID = made.next
            switch result {
            case .success(let channel):
                if !leases.isEmpty { channel.closeFuture.whenComplete { _ in for lease in leases { lease.release() } } }
                guard let (id, ref) = made.made else {
                    channel.close(promise: nil)
                    return me.run(me.machine.failure("stream opened without its handler"))
                }
                me.opened = Stream(id: id, channel: channel, handler: ref, budgets: budgets)
                me.run(me.machine.streamOpened(id: id, now: .now()))
                if let orphan = me.opened {
                    // Neither adopted nor discarded (cannot happen): never leak the stream.
                    me.opened = nil
                    orphan.channel.close(promise: nil)
                }
            case .failure(let error):
                for lease in leases { lease.release() }
                me.run(me.machine.streamOpenFailed(error))
            }
        }
    }
}
