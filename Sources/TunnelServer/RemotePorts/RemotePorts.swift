import Logging
import NIOConcurrencyHelpers
import NIOCore
import Operations
import NIOPosix
import Shared
import TunnelProtocol

/// rtcp on the relay: TCP ports that agents ask the relay to open. Each accepted connection is
/// carried as a stream of a session of the tunnel that claimed the port, like an entrypoint
/// connection. A port belongs to one tunnel; several sessions of that tunnel share it; it closes
/// when the tunnel's last session leaves, so a reconnecting agent can claim it again at once.
public final class RemotePorts: Sendable {
    /// Ports agents may claim (a token's rights narrow this further once tokens carry rights).
    public let allowed: ClosedRange<Int>
    /// The address the ports listen on (all IPv4 addresses by default; frp's `proxyBindAddr`).
    public let bindHost: String
    private let directory: any TunnelDirectory
    private let group: EventLoopGroup
    private let label: String
    /// Made when used, not when the relay is assembled: the relay is built before logging is
    /// bootstrapped, and a logger made then would ignore `-D` and the configured level.
    private var logger: Logger { Logger(label: label) }
    private let bound: NIOLockedValueBox<[String: Binding]>
    /// The UDP flows of every rudp port.
    public let flows: RelayUDPFlows
    private let sweeper: RepeatedTask

    struct Binding {
        var tunnel: String
        /// The socket of a UDP port.
        var channel: Channel?
        /// The listener task of a TCP port (cancelling it closes the listener).
        var task: Task<Void, Never>?
        var ready: EventLoopFuture<Void>
    }

    /// Caps the connections the TCP ports hold at once (shared with the public entrypoints).
    private let limiter: ConnectionLimiter?
    /// The visitor policy's decision point: every connection and UDP peer is put to it with its
    /// tunnel's policies.
    private let gate: VisitorGate?
    /// Where the ports' streams are counted (per-tunnel totals, metrics); set once by the relay's
    /// registry, which owns the observers, before any port opens.
    private let traffic = NIOLockedValueBox<TunnelTraffic?>(nil)

    public convenience init(
        directory: any TunnelDirectory, allowed: ClosedRange<Int> = 1024...65535, bindHost: String = "0.0.0.0", limiter: ConnectionLimiter? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, loggerLabel: String
    ) {
        self.init(directory: directory, allowed: allowed, bindHost: bindHost, limiter: limiter, gate: nil, group: group, loggerLabel: loggerLabel)
    }

    init(
        directory: any TunnelDirectory, allowed: ClosedRange<Int> = 1024...65535, bindHost: String = "0.0.0.0", limiter: ConnectionLimiter? = nil, gate: VisitorGate?,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, loggerLabel: String
    ) {
        self.gate = gate
        self.directory = directory
        self.limiter = limiter
        self.allowed = allowed
        self.bindHost = bindHost
        self.group = group
        self.label = loggerLabel
        self.bound = NIOLockedValueBox([:])
        let flows = RelayUDPFlows(gate: gate)
        self.flows = flows
        self.sweeper = group.next().scheduleRepeatedTask(initialDelay: .seconds(15), delay: .seconds(15)) { _ in flows.sweep() }
    }

    deinit {
        sweeper.cancel()
    }

    /// Counts the ports' connections into `traffic`.
    func countTraffic(into traffic: TunnelTraffic) {
        self.traffic.withLockedValue { $0 = traffic }
        flows.countTraffic(into: traffic)
    }

    /// The ports open (or opening) now, for `RelaySnapshot`.
    public func snapshot() -> [RelaySnapshot.RemotePort] {
        bound.withLockedValue { ports in
            ports.compactMap { key, binding -> RelaySnapshot.RemotePort? in
                let udp = key.hasPrefix("udp/")
                guard let port = Int(key.split(separator: "/").last ?? "") else { return nil }
                return RelaySnapshot.RemotePort(port: port, udp: udp, tunnel: binding.tunnel)
            }
        }.sorted { ($0.port, $0.udp ? 1 : 0) < ($1.port, $1.udp ? 1 : 0) }
    }

    /// Reserves `key` for `tunnel`: nil means "bind it now and fulfil `promise`"; otherwise the
    /// future of the existing binding (or a refusal).
    private func reserve(_ key: String, port: Int, tunnel: String, promise: EventLoopPromise<Void>) -> EventLoopFuture<Void>? {
        let eventLoop = promise.futureResult.eventLoop
        guard allowed.contains(port) else {
            return eventLoop.makeFailedFuture(EngineError(.notAllowed, "port \(port) is outside \(allowed.lowerBound)-\(allowed.upperBound)"))
        }
        return bound.withLockedValue { ports in
            if let b = ports[key] {
                return b.tunnel == tunnel ? b.ready.hop(to: eventLoop) : eventLoop.makeFailedFuture(EngineError(.notAllowed, "port \(key) belongs to another tunnel"))
            }
            ports[key] = Binding(tunnel: tunnel, channel: nil, ready: promise.futureResult)
            return nil
        }
    }

    private func finish(_ key: String, tunnel: String, result: Result<Channel, Error>, promise: EventLoopPromise<Void>) {
        finish(key, tunnel: tunnel, result: result.map { channel in
            bound.withLockedValue { $0[key]?.channel = channel }
            return channel.localAddress
        }, promise: promise)
    }

    private func finish(_ key: String, tunnel: String, result: Result<SocketAddress?, Error>, promise: EventLoopPromise<Void>) {
        switch result {
        case .success:
            logger.info("remote port open", metadata: ["port": "\(key)", "tunnel": "\(tunnel)"])
            promise.succeed(())
        case .failure(let error):
            let task = bound.withLockedValue { ports -> Task<Void, Never>? in
                defer { ports[key] = nil }
                return ports[key]?.task
            }
            task?.cancel()
            promise.fail(EngineError(.notAllowed, "cannot open port \(key): \(error)"))
        }
    }

    /// Opens UDP `port` for `tunnel` (rudp), or joins it if that tunnel already has it.
    /// `created` is told the port's key when this call (not an earlier claim) binds it.
    public func claimUDP(_ port: Int, tunnel: String, on eventLoop: EventLoop, created: (@Sendable (String) -> Void)? = nil) -> EventLoopFuture<Void> {
        open("udp/\(port)", port: port, tunnel: tunnel, on: eventLoop, created: created) { key, promise in
            self.bindUDP(key, port: port, tunnel: tunnel, promise: promise)
        }
    }

    private func bindUDP(_ key: String, port: Int, tunnel: String, promise: EventLoopPromise<Void>) {
        let directory = self.directory
        let flows = self.flows
        // The tunnel's bandwidth: the port's socket is read only as its budgets allow (what the
        // kernel cannot hold meanwhile is dropped, as UDP is).
        let budgets = gate == nil ? [] : directory.policies(forTunnel: tunnel).budgets
        DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: UDPLimits.maxDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    for budget in budgets { try channel.pipeline.syncOperations.addHandler(BandwidthPacer(budget: budget)) }
                    try channel.pipeline.syncOperations.addHandler(RelayUDPPortHandler(port: port, tunnel: tunnel, directory: directory, flows: flows))
                }
            }
            .bind(host: self.bindHost, port: port)
            .whenComplete { self.finish(key, tunnel: tunnel, result: $0, promise: promise) }
    }

    /// Opens TCP `port` for `tunnel`, or joins it if that tunnel already has it.
    /// `created` is told the port's key when this call (not an earlier claim) binds it.
    public func claim(_ port: Int, tunnel: String, on eventLoop: EventLoop, created: (@Sendable (String) -> Void)? = nil) -> EventLoopFuture<Void> {
        open("tcp/\(port)", port: port, tunnel: tunnel, on: eventLoop, created: created) { key, promise in
            self.listenTCP(key, port: port, tunnel: tunnel, promise: promise)
        }
    }

    private func listenTCP(_ key: String, port: Int, tunnel: String, promise: EventLoopPromise<Void>) {
        let directory = self.directory
        let logger = self.logger
        let group = self.group
        let limiter = self.limiter
        let gate = self.gate
        let traffic = self.traffic.withLockedValue { $0 }
        // The engine's TCP listener: children reach `accept` once active, with a handshake reader.
        let started = NIOLockedValueBox(false)
        let task = Task {
            do {
                try await TCPListener().run(
                    address: HostPort(host: self.bindHost, port: port), group: group, logger: logger,
                    bound: { address in
                        started.withLockedValue { $0 = true }
                        self.finish(key, tunnel: tunnel, result: Result<SocketAddress?, Error>.success(address), promise: promise)
                    },
                    accept: { io in
                        guard limiter?.acquire(for: io, logger: logger) ?? true else { return }
                        await Self.accept(io, tunnel: tunnel, port: port, directory: directory, gate: gate, traffic: traffic, logger: logger)
                    })
            } catch {
                // A failure to bind refuses the claim; an end after binding (release) is expected.
                if !started.withLockedValue({ $0 }) {
                    self.finish(key, tunnel: tunnel, result: Result<SocketAddress?, Error>.failure(error), promise: promise)
                }
            }
        }
        bound.withLockedValue { $0[key]?.task = task }
    }

    /// Reserves `key` for `tunnel` and, when this call is the one to open it, runs `bind`, which
    /// settles the promise through `finish`; otherwise joins the existing binding.
    private func open(
        _ key: String, port: Int, tunnel: String, on eventLoop: EventLoop, created: (@Sendable (String) -> Void)?,
        bind: (String, EventLoopPromise<Void>) -> Void
    ) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        if let existing = reserve(key, port: port, tunnel: tunnel, promise: promise) {
            promise.succeed(())
            return existing
        }
        created?(key)
        bind(key, promise)
        return promise.futureResult
    }

    /// Closes the port `key` (`tcp/2222`) if `tunnel` holds it: a claim refused whole undoes the
    /// ports it bound itself, and only those (another session of the tunnel may share the rest).
    /// Called once the bind has settled.
    public func release(key: String, tunnel: String) {
        let binding: Binding? = bound.withLockedValue { ports in
            guard let b = ports[key], b.tunnel == tunnel else { return nil }
            ports[key] = nil
            return b
        }
        guard let binding else { return }
        logger.info("remote port closed", metadata: ["port": "\(key)", "tunnel": "\(tunnel)"])
        binding.channel?.close(promise: nil)
        binding.task?.cancel()
    }

    /// Closes every port of `tunnel` (its last session left).
    public func release(tunnel: String) {
        let mine: [String: Binding] = bound.withLockedValue { ports in
            let mine = ports.filter { $0.value.tunnel == tunnel }
            for port in mine.keys { ports[port] = nil }
            return mine
        }
        for (key, binding) in mine {
            logger.info("remote port closed", metadata: ["port": "\(key)", "tunnel": "\(tunnel)"])
            binding.channel?.close(promise: nil)
            binding.task?.cancel()
        }
    }

    static func accept(_ io: Handshake, tunnel: String, port: Int, directory: any TunnelDirectory, gate: VisitorGate?, traffic: TunnelTraffic? = nil, logger: Logger) async {
        guard let session = directory.session(for: tunnel, near: io.channel.eventLoop) else {
            io.close()
            return
        }
        var budgets: [BandwidthBudget] = []
        if let gate {
            switch gate.admitConnection(source: io.channel.remoteAddress, tunnel: tunnel, layers: directory.policies(forTunnel: tunnel)) {
            case .refuse:
                // Logged and counted by the gate; the visitor only sees the connection close.
                io.close()
                return
            case .pass(let grant):
                io.channel.closeFuture.whenComplete { _ in grant.release() }
                budgets = grant.budgets
            }
        }
        let header = TunnelMessages.StreamHeader(
            tunnel: tunnel, client: io.channel.remoteAddress.map { "\($0.hostPort)" }, host: nil,
            server: io.channel.localAddress.map { "\($0.hostPort)" })
        do {
            try await EntrypointHandler.forward(io, session: session, header: header, directory: directory, logger: logger, budgets: budgets, traffic: traffic)
        } catch {
            logger.info("remote port connection failed", metadata: ["port": "\(port)", "error": "\(error)"])
            io.close()
        }
    }
}
