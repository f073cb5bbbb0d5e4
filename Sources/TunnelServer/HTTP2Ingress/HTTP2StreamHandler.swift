import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import Shared
import TunnelProtocol

/// One visitor h2 stream (a child channel of the visitor's connection): its request is routed by
/// `:authority` and carried on a Mux stream of its own, which the agent connects to the local
/// service; the answer comes back the same way. Speaks HTTP/1.1 or h2c to the local service as
/// the host's rule says (`HTTP2Upstream`); an HTTP/1.1 upstream kept alive by an earlier stream of
/// the connection is reused (`HTTP2UpstreamPool`).
///
/// The decisions are `HTTP2StreamStateMachine`'s; this handler turns the stream's and the
/// upstream's events into its events and carries out the actions.
final class HTTP2StreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Who the visitor is and where it came in, for the stream header and the forwarding headers.
    struct Visitor: Sendable {
        var client: String?
        var clientIP: String?
        var server: String?
        /// The visitor's layer-4 address (the visitor policy's IP lists and rate limits).
        var source: SocketAddress? = nil
        /// The entrypoint service the connection came to (requests are counted under it).
        var service: String? = nil
    }

    private let directory: any TunnelDirectory
    private let pool: HTTP2UpstreamPool
    /// The connection's flush batcher: answers of many streams leave in one TLS write.
    private let flusher: HTTP2FlushBatcher?
    private let logger: Logger
    private let visitor: Visitor
    private let gate: VisitorGate?
    /// Counts the answered request and keeps it for the inspector; nil: nothing kept.
    private let observers: RelayObservers?
    private var machine: HTTP2StreamStateMachine
    private var context: ChannelHandlerContext?
    private var sawHead = false
    private var upstream: CrossLoopRef<HTTP2UpstreamHandler>?
    /// How the current upstream goes back to the pool when the exchange is over (`http1` only).
    private var poolEntry: (tunnel: String, idle: HTTP2UpstreamPool.Idle)?
    private var upstreamID = 0
    private var timer: Scheduled<Void>?
    /// The tunnel's bandwidth, for what the visitor sends (its answer is paced on the upstream).
    private var pacing = ReadPacing()

    init(
        directory: any TunnelDirectory, pool: HTTP2UpstreamPool, flusher: HTTP2FlushBatcher? = nil, logger: Logger, visitor: Visitor,
        idleTimeout: TimeAmount = RelayDefaults.httpIdleTimeout, gate: VisitorGate? = nil, observers: RelayObservers? = nil,
        route: @escaping (_ host: String, _ path: String?) -> HTTP2StreamStateMachine.Route?
    ) {
        self.observers = observers
        self.directory = directory
        self.pool = pool
        self.flusher = flusher
        self.logger = logger
        self.visitor = visitor
        self.gate = gate
        self.machine = HTTP2StreamStateMachine(clientIP: visitor.clientIP, idleTimeout: idleTimeout, route: route)
        if let observers {
            self.machine.observing = true
            self.machine.capture = observers.capture
        }
        if let gate {
            let source = visitor.source
            self.machine.admit = { headers, route in
                gate.admit(
                    VisitorGate.Request(source: source, host: HTTP2HeaderMapping.authority(headers) ?? "", field: { headers.first(name: $0) }), tunnel: route.tunnel,
                    layers: route.policies)
            }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        pacing.cancel()
        run(machine.clientClosed())
    }

    // MARK: the visitor's stream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let part = HTTP2StreamPart.received(self.unwrapInboundIn(data), sawHead: &sawHead) else { return }
        run(machine.clientPart(part))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        run(machine.clientReadComplete())
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.clientClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("h2 entrypoint: stream error", metadata: ["client": "\(visitor.client ?? "")", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        run(machine.clientWritabilityChanged(context.channel.isWritable, now: .now()))
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        run(machine.readRequested())
    }

    // MARK: the upstream (called on this handler's loop)

    func upstreamPart(_ id: Int, _ part: HTTP2StreamPart) {
        guard id == upstreamID, context != nil else { return }
        run(machine.upstreamPart(part))
    }

    func upstreamReadComplete(_ id: Int) {
        guard id == upstreamID, context != nil else { return }
        run(machine.upstreamReadComplete())
    }

    func upstreamWritabilityChanged(_ id: Int, _ writable: Bool) {
        guard id == upstreamID, context != nil else { return }
        run(machine.upstreamWritabilityChanged(writable))
    }

    func upstreamClosed(_ id: Int) {
        guard id == upstreamID, context != nil else { return }
        run(machine.upstreamClosed())
    }

    // MARK: carrying out the machine's actions

    private func run(_ actions: [HTTP2StreamStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: HTTP2StreamStateMachine.Action) {
        switch action {
        case .openUpstream(let tunnel, let host, let proto, let policies):
            openUpstream(tunnel: tunnel, host: host, proto: proto, policies: policies)
        case .verify(let check):
            guard let context else { return }
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            check.run(context.eventLoop).whenComplete { result in
                let me = me.value
                guard me.context != nil else { return }
                me.run(me.machine.credentialsChecked((try? result.get()) ?? false))
            }
        case .writeUpstream(let part):
            if !pacing.budgets.isEmpty, case .body(let bytes, _) = part { pacing.spent(bytes.readableBytes, now: .now()) }
            upstream?.write(part)
        case .flushUpstream:
            upstream?.flush()
        case .startReadingUpstream:
            upstream?.startReading()
        case .setUpstreamPartnerWritable(let writable):
            upstream?.setPartnerWritable(writable)
        case .closeUpstream:
            upstream?.close()
            upstream = nil
            poolEntry = nil
        case .releaseUpstream:
            // Into the pool at once, so the connection's next request finds it; the upstream
            // decides on its loop whether it can really be reused (`claim` tells).
            if let upstream {
                upstream.release()
                if let entry = poolEntry, !pool.put(tunnel: entry.tunnel, entry.idle) { upstream.close() }
            }
            upstream = nil
            poolEntry = nil
        case .writeClient(let part, let thenReset):
            guard let context else { return }
            if thenReset {
                let channel = context.channel
                let promise = context.eventLoop.makePromise(of: Void.self)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                context.write(self.wrapOutboundOut(part.payload), promise: promise)
            } else {
                context.write(self.wrapOutboundOut(part.payload), promise: nil)
            }
        case .flushClient:
            guard let context else { return }
            if let flusher {
                flusher.flushSoon(context.channel)
            } else {
                context.flush()
            }
        case .readClient:
            guard let context else { return }
            if pacing.budgets.isEmpty && pacing.scheduled == nil { return context.read() }
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            if pacing.mayRead(now: .now(), on: context.eventLoop, wake: { me.value.pacedReadDue() }) { context.read() }
        case .resetClient:
            context?.close(promise: nil)
        case .scheduleTimer(let deadline):
            guard let context else { return }
            timer?.cancel()
            let me = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: deadline) { me.value.timerFired() }
        case .exchangeFinished(let exchange):
            observers?.finished(exchange, client: visitor.client, service: visitor.service, now: .now())
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

    /// Finds an upstream of `tunnel` for `proto`: an idle keep-alive one of this connection
    /// (`http1`), else a new Mux stream on one of the tunnel's sessions; reports the outcome to the
    /// machine.
    private func openUpstream(tunnel: String, host: String, proto: RuleOptions.UpstreamProtocol, policies: [VisitorPolicy]) {
        guard let context else { return }
        pacing.budgets = policies.budgets
        let loop = context.eventLoop
        upstreamID += 1
        let id = upstreamID
        let me = CrossLoopRef(self, on: loop)
        let writable = context.channel.isWritable
        let bound = NIOLoopBound(self, eventLoop: loop)
        if proto == .http1, let idle = pool.take(tunnel: tunnel) {
            idle.handler.claim(id: id, ingress: me, partnerWritable: writable, on: loop).whenSuccess { claimed in
                let me = bound.value
                guard id == me.upstreamID, me.context != nil else {
                    // This stream went away meanwhile: the upstream is not needed.
                    if claimed { idle.handler.close() }
                    return
                }
                guard claimed else {
                    // It closed while idle: try the next one, or a new stream.
                    return me.openUpstream(tunnel: tunnel, host: host, proto: proto, policies: policies)
                }
                me.upstream = idle.handler
                me.poolEntry = (tunnel, idle)
                me.run(me.machine.upstreamOpened())
            }
            return
        }
        guard let session = directory.session(for: tunnel, near: loop) else {
            return run(machine.upstreamUnavailable(host: host, page: policies.errorPage(503)))
        }
        // A new stream holds a place among the tunnel's connections until it closes.
        let leases: [ConnectionCounter.Lease]
        switch gate?.leases(tunnel: tunnel, layers: policies, source: visitor.source, host: host) ?? .success([]) {
        case .success(let granted): leases = granted
        case .failure(let refusal): return run(machine.upstreamRefused(refusal))
        }
        let made = NIOLockedValueBox<CrossLoopRef<HTTP2UpstreamHandler>?>(nil)
        let header = TunnelMessages.StreamHeader(tunnel: tunnel, client: visitor.client, host: host, server: visitor.server)
        let reuse = proto == .http1 ? HTTP2UpstreamHandler.Reuse(pool: CrossLoopRef(pool, on: loop), tunnel: tunnel, serial: pool.serial()) : nil
        poolEntry = nil
        HTTP2Upstream.open(
            proto, session: session, header: header, directory: directory, near: loop, logger: logger, budgets: policies.budgets, traffic: observers?.traffic,
            handler: { carrier in HTTP2UpstreamHandler(id: id, ingress: me, partnerWritable: writable, carrier: carrier, reuse: reuse) },
            made: made
        ).hop(to: loop).whenComplete { result in
            let me = bound.value
            if !leases.isEmpty {
                switch result {
                case .success(let channel): channel.closeFuture.whenComplete { _ in for lease in leases { lease.release() } }
                case .failure: for lease in leases { lease.release() }
                }
            }
            guard id == me.upstreamID else {
                made.withLockedValue { $0 }?.close()
                return
            }
            switch result {
            case .success:
                guard let ref = made.withLockedValue({ $0 }) else {
                    return me.run(me.machine.upstreamOpenFailed(host: host, page: policies.errorPage(502)))
                }
                me.upstream = ref
                if let reuse { me.poolEntry = (tunnel, HTTP2UpstreamPool.Idle(handler: ref, serial: reuse.serial)) }
                me.run(me.machine.upstreamOpened())
            case .failure(let error):
                me.logger.info("h2 entrypoint: tunnel unreachable", metadata: ["tunnel": "\(tunnel)", "error": "\(error)"])
                me.run(me.machine.upstreamOpenFailed(host: host, page: policies.errorPage(502)))
            }
        }
    }
}
