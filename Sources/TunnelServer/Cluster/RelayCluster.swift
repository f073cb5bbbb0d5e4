import Etcd
import Foundation
import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Operations
import ServiceLifecycle
import Shared

/// This relay's part in a cluster (`--etcd`): the shared identity taken at start, the lease its
/// records live on, the records of the tunnels it holds, the view of the others (a watch), the
/// peer sessions it carries visitors over, and its own peer endpoint.
///
/// Runs as one service: the lease's keep-alives, the publisher and the watcher together; at
/// graceful shutdown the lease is revoked (this relay's records go at once) and peer sessions
/// get GOAWAY.
public final class RelayCluster: Service, Sendable {
    public let settings: ClusterSettings
    let store: EtcdClient
    public let lease: ClusterLease
    let logger: Logger
    let directory: LocalTunnelDirectory
    let pool: PeerPool
    let endpoint: PeerEndpoint?
    /// How long visitors on peer sessions get to finish at shutdown (`--drain-timeout`).
    let drainTimeout: Duration
    private let view: NIOLockedValueBox<ClusterView>
    /// The relay's rtcp ports (nil: it opens none).
    let ports: RemotePorts?
    /// TCP ports opened here for tunnels held elsewhere: port → tunnel.
    private let carriedPorts = NIOLockedValueBox<[Int: String]>([:])
    /// Tunnels whose record must be written again (deduplicated: bounded by the tunnel count).
    private let pending = NIOLockedValueBox<(tunnels: Set<String>, signal: AsyncStream<Void>.Continuation?)>(([], nil))

    init(
        settings: ClusterSettings, store: EtcdClient, directory: LocalTunnelDirectory, pool: PeerPool, endpoint: PeerEndpoint?,
        drainTimeout: Duration, ports: RemotePorts?, logger: Logger
    ) {
        self.drainTimeout = drainTimeout
        self.ports = ports
        self.settings = settings
        self.store = store
        self.logger = logger
        self.directory = directory
        self.pool = pool
        self.endpoint = endpoint
        view = NIOLockedValueBox(ClusterView(prefix: settings.prefix, me: settings.relayID))
        lease = ClusterLease(store: store, ttl: settings.leaseTTL, logger: logger)
    }

    /// Connects to etcd, makes the state directory hold the cluster's identity, opens the peer
    /// endpoint (with `peerAddr`) and records this relay as a member. Without etcd at start, a
    /// relay whose state directory has an identity starts on it (and catches up later); one with
    /// none cannot know the cluster's and refuses to start.
    static func join(
        _ settings: ClusterSettings, stateDir: String, hostnames: [String], peerAddr: String?, advertise: String, directory: LocalTunnelDirectory,
        traffic: TunnelTraffic?, drainTimeout: Duration, ports: RemotePorts?, logger: Logger
    ) async throws -> RelayCluster {
        let sealing = try ClusterKey(file: settings.keyFile)
        let store = try EtcdClient(settings.etcd, logger: logger)
        do {
            let outcome = try await ClusterIdentity.sync(stateDir: stateDir, hostnames: hostnames, store: store, key: sealing, prefix: settings.prefix, logger: logger)
            logger.info("joined the cluster", metadata: ["relay": "\(settings.relayID)", "identity": "\(outcome.rawValue)", "etcd": "\(settings.etcd.endpoints.joined(separator: ","))"])
        } catch let error as EtcdError where error.kind == .unavailable && (try? ClusterIdentity.read(stateDir)) != nil {
            logger.warning("etcd is unreachable: starting on the identity in the state directory", metadata: ["error": "\(error)"])
        } catch {
            try? await store.shutdown()
            throw error
        }
        let peer = try ClusterIdentity.readPeer(stateDir)
        let pool = PeerPool(tls: try PeerTLS.clientContext(peer), logger: logger)
        var endpoint: PeerEndpoint?
        var recorded: String?
        if let peerAddr {
            let hp = try HostPort(parsing: peerAddr)
            let bound = try await PeerEndpoint.bind(hp, tls: try PeerTLS.serverContext(peer), directory: directory, traffic: traffic, logger: logger)
            endpoint = bound
            let port = bound.localAddress?.port ?? hp.port
            let wildcard = hp.host.isEmpty || hp.host == "0.0.0.0" || hp.host == "::"
            recorded = HostPort(host: wildcard ? advertise : hp.host, port: port).description
        }
        let cluster = RelayCluster(
            settings: settings, store: store, directory: directory, pool: pool, endpoint: endpoint, drainTimeout: drainTimeout, ports: ports, logger: logger)
        let member = ClusterMember(id: settings.relayID, peerAddr: recorded, advertise: advertise, version: BuildVersion.current, startedAt: Date())
        await cluster.lease.hold(settings.memberKey(settings.relayID), Array(try JSONEncoder.cluster.encode(member)))
        // The first lease now, so claims are taken from the first agent on (they are refused
        // while nothing can be recorded).
        do {
            try await cluster.lease.tick()
        } catch {
            logger.warning("etcd is unreachable: new claims are refused until it answers", metadata: ["error": "\(error)"])
        }
        directory.observeTunnels { [weak cluster] tunnel in cluster?.changed(tunnel) }
        directory.attach(remote: CarriedTunnels(cluster: cluster))
        return cluster
    }

    // MARK: Records of the tunnels held here

    private func changed(_ tunnel: String) {
        let signal = pending.withLockedValue { p -> AsyncStream<Void>.Continuation? in
            p.tunnels.insert(tunnel)
            return p.signal
        }
        signal?.yield()
    }

    private func publishPending() async {
        let tunnels = pending.withLockedValue { p -> Set<String> in
            defer { p.tunnels.removeAll() }
            return p.tunnels
        }
        for tunnel in tunnels.sorted() {
            let key = settings.prefix + "tunnels/" + tunnel + "/" + settings.relayID
            if let held = directory.localHolding(of: tunnel) {
                let carried = carriedPorts.withLockedValue { $0 }
                let own = (ports?.snapshot() ?? []).filter { $0.tunnel == tunnel && !$0.udp && carried[$0.port] != tunnel }.map(\.port)
                let record = TunnelRecord(
                    relay: settings.relayID, hostnames: held.hostnames, sessions: held.sessions, weight: held.weight, policy: held.policy, ports: own)
                guard let bytes = try? JSONEncoder.cluster.encode(record) else { continue }
                await lease.hold(key, Array(bytes))
            } else {
                await lease.release(key)
            }
        }
    }

    /// Writes records as tunnels change here, one change at a time (so the last state wins).
    private func runPublisher() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        pending.withLockedValue { $0.signal = continuation }
        continuation.yield()
        for await _ in stream {
            await publishPending()
            applyView()
        }
    }

    // MARK: The others

    /// Lists the cluster's keys, then follows them with a watch; lists again after any break.
    private func runWatcher() async {
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let listed = try await store.list(prefix: settings.prefix + "members/")
                let tunnels = try await store.list(prefix: settings.prefix + "tunnels/")
                let revision = max(listed.revision, tunnels.revision)
                view.withLockedValue { $0.reset(listed.kvs + tunnels.kvs, revision: revision) }
                applyView()
                var watch = try await store.watch(prefix: settings.prefix, from: revision + 1)
                backoff = .milliseconds(200)
                while let batch = try await watch.next() {
                    if view.withLockedValue({ $0.apply(batch) }) { applyView() }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("cluster watch interrupted: serving what this relay knows, trying again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// Routes the others' hostnames here, opens their TCP ports here, and keeps sessions to the
    /// relays that hold tunnels.
    private func applyView() {
        let (rules, peers, wantedPorts) = view.withLockedValue { v -> ([String: String], [String: String], [Int: String]) in
            var peers: [String: String] = [:]
            for tunnel in v.tunnels.keys {
                for carrier in v.carriers(of: tunnel) { peers[carrier.relay] = carrier.peerAddr }
            }
            return (v.remoteRules, peers, v.remotePorts)
        }
        directory.setClusterRules(rules)
        pool.want(peers)
        applyPorts(wantedPorts)
    }

    /// Opens the ports the others' agents asked for (their connections are carried one hop, as a
    /// hostname's are) and closes those no longer asked for. A port this relay cannot open (its
    /// `--ports` range, or taken here by another tunnel) is logged and left.
    private func applyPorts(_ wanted: [Int: String]) {
        guard let ports else { return }
        // A port closed meanwhile (a local agent of the same tunnel left and took it with it) is
        // opened again.
        let bound = Set(ports.snapshot().filter { !$0.udp }.map { "\($0.port)/\($0.tunnel)" })
        let (open, close) = carriedPorts.withLockedValue { carried -> ([(Int, String)], [(Int, String)]) in
            carried = carried.filter { bound.contains("\($0.key)/\($0.value)") }
            let close = carried.filter { wanted[$0.key] != $0.value }.map { ($0.key, $0.value) }
            let open = wanted.filter { carried[$0.key] != $0.value }.map { ($0.key, $0.value) }
            for (port, _) in close { carried[port] = nil }
            for (port, tunnel) in open { carried[port] = tunnel }
            return (open, close)
        }
        for (port, tunnel) in close { ports.release(key: "tcp/\(port)", tunnel: tunnel) }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        for (port, tunnel) in open {
            ports.claim(port, tunnel: tunnel, on: loop).whenComplete { result in
                switch result {
                case .success:
                    self.logger.info("opened a port for a tunnel held by another relay", metadata: ["port": "\(port)", "tunnel": "\(tunnel)"])
                case .failure(let error):
                    self.carriedPorts.withLockedValue { if $0[port] == tunnel { $0[port] = nil } }
                    self.logger.warning("cannot open a port for a tunnel held by another relay", metadata: ["port": "\(port)", "tunnel": "\(tunnel)", "error": "\(error)"])
                }
            }
        }
    }

    /// A pooled session to a relay holding `tunnel`: the one with the fewest open streams for its
    /// weight (the same least-streams rule as local sessions).
    func carrier(for tunnel: String, excluding: [ObjectIdentifier]) -> MuxSession? {
        let carriers = view.withLockedValue { $0.carriers(of: tunnel) }
        var best: (MuxSession, Double)?
        for c in carriers {
            guard let s = pool.session(relay: c.relay), !excluding.contains(ObjectIdentifier(s)) else { continue }
            let score = Double(s.openStreamCount + 1) / Double(max(c.record.weight, 1))
            if best == nil || score < best!.1 { best = (s, score) }
        }
        return best?.0
    }

    func holdsElsewhere(_ tunnel: String) -> Bool { view.withLockedValue { $0.holds(tunnel) } }

    /// The relays the cluster has now (from the view).
    public var members: [ClusterMember] { view.withLockedValue { Array($0.members.values) }.sorted { $0.id < $1.id } }

    /// What `GET /api/cluster` shows.
    func report() -> ClusterReport {
        let (members, tunnels) = view.withLockedValue { ($0.members, $0.tunnels) }
        var holdings: [String: Set<String>] = tunnels.mapValues { Set($0.filter { $0.value.sessions > 0 }.keys) }
        for tunnel in directory.snapshot().tunnels.map(\.id) where directory.localHolding(of: tunnel) != nil {
            holdings[tunnel, default: []].insert(settings.relayID)
        }
        let out = pool.sessions.sorted { $0.key < $1.key }.map { ClusterReport.Peer(direction: "out", relay: $0.key, session: $0.value) }
        let inbound = (endpoint?.sessions.all ?? []).map { ClusterReport.Peer(direction: "in", relay: nil, session: $0) }
        return ClusterReport(
            enabled: true, relay: settings.relayID,
            members: members.values.sorted { $0.id < $1.id }.map {
                .init(id: $0.id, peerAddr: $0.peerAddr, advertise: $0.advertise, version: $0.version, startedAt: $0.startedAt, me: $0.id == settings.relayID)
            },
            tunnels: holdings.filter { !$0.value.isEmpty }.keys.sorted().map { .init(tunnel: $0, relays: holdings[$0]!.sorted()) },
            peers: out + inbound)
    }

    // MARK: Service

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { try? await self.lease.run() }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    await withDiscardingTaskGroup { inner in
                        inner.addTask { await self.runPublisher() }
                        inner.addTask { await self.runWatcher() }
                    }
                }
            }
        }
        pending.withLockedValue { $0.signal?.finish() }
        // Visitors being carried either way finish (or meet the drain timeout), as agents' do.
        async let outbound: Void = pool.drain(timeout: drainTimeout)
        async let inbound: Void? = endpoint?.drain(timeout: drainTimeout)
        _ = await (outbound, inbound)
    }

    func shutdown() async {
        try? await store.shutdown()
    }
}

/// The directory's way to the cluster's other relays.
struct CarriedTunnels: RemoteTunnels {
    weak var cluster: RelayCluster?

    func session(for tunnel: String, excluding: [ObjectIdentifier]) -> MuxSession? {
        cluster?.carrier(for: tunnel, excluding: excluding)
    }

    func knows(_ tunnel: String) -> Bool { cluster?.holdsElsewhere(tunnel) == true }

    func claimsUnavailable() -> String? {
        guard let cluster, !cluster.lease.isRecording else { return nil }
        return "the cluster's store (etcd) is unreachable, so this relay cannot record new tunnels; established ones keep working"
    }
}

extension JSONEncoder {
    /// Dates as ISO 8601, keys sorted: what every relay writes into etcd.
    static var cluster: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

extension JSONDecoder {
    static var cluster: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
