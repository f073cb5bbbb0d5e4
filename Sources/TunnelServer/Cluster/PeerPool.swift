import Logging
import Mux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Shared
import TunnelProtocol

/// One Mux session to each relay of the cluster this relay may carry visitors to, over mutual
/// TLS 1.3 (`PeerTLS`). Sessions are opened as soon as a relay holds a tunnel (so a visitor does
/// not wait for a handshake), kept while it does, and re-opened with capped backoff when they
/// drop. This relay only opens streams on them; what the peer might open is refused.
final class PeerPool: Sendable {
    private struct Peer {
        var addr: String
        var session: MuxSession?
        var wanted = true
        var backoff: TimeAmount = .milliseconds(100)
    }

    private let peers = NIOLockedValueBox<[String: Peer]>([:])
    /// Every session this pool opened and that has not ended (for the drain at shutdown).
    private let live = LiveSessions()
    private let tls: NIOSSLContext
    private let group: EventLoopGroup
    private let logger: Logger

    init(tls: NIOSSLContext, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    /// The relays (ID → peer address) to keep sessions to; sessions to others are closed.
    func want(_ wanted: [String: String]) {
        var start: [(String, String)] = []
        var drop: [MuxSession] = []
        peers.withLockedValue { peers in
            for (id, peer) in peers where wanted[id] != peer.addr {
                peers[id]?.wanted = false
                if let s = peer.session { drop.append(s) }
                peers[id] = nil
            }
            for (id, addr) in wanted where peers[id] == nil {
                peers[id] = Peer(addr: addr)
                start.append((id, addr))
            }
        }
        for s in drop { s.goAway(reason: "the peer no longer holds tunnels") }
        for (id, addr) in start { connect(id, addr) }
    }

    /// The live session to relay `id`, nil while there is none.
    func session(relay id: String) -> MuxSession? {
        peers.withLockedValue { $0[id]?.session }.flatMap { $0.isClosed || $0.isGoingAway ? nil : $0 }
    }

    /// Every live peer session (for the API and the drain at shutdown).
    var sessions: [String: MuxSession] {
        peers.withLockedValue { $0.compactMapValues(\.session) }
    }

    /// At shutdown: no session is opened again; every one goes away, the streams on them (visitors
    /// being carried) get `timeout` to finish, then what is left is closed.
    func drain(timeout: Duration) async {
        peers.withLockedValue { $0.removeAll() }
        let cut = await live.drain(reason: "relay shutting down", timeout: timeout)
        if cut > 0 { logger.warning("peer sessions cut at the drain timeout", metadata: ["sessions": "\(cut)"]) }
    }

    private func connect(_ id: String, _ addr: String) {
        guard let hp = try? HostPort(parsing: addr) else {
            logger.error("a peer's address cannot be dialled", metadata: ["relay": "\(id)", "addr": "\(addr)"])
            return
        }
        let tls = self.tls
        let logger = self.logger
        let made = NIOLockedValueBox<MuxSession?>(nil)
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(3))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    let session = try channel.pipeline.syncOperations.addMuxSession(
                        role: .initiator, configuration: .tunnel, logger: logger,
                        inboundStreamInitializer: { stream, _ in stream.eventLoop.makeFailedFuture(ClusterError(path: "peer", reason: "peers do not open streams here")) })
                    made.withLockedValue { $0 = session }
                }
            }
            .connect(host: hp.host, port: hp.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard let session = made.withLockedValue({ $0 }) else {
                        channel.close(promise: nil)
                        return self.retry(id, addr)
                    }
                    let kept = self.peers.withLockedValue { peers -> Bool in
                        guard peers[id]?.wanted == true, peers[id]?.addr == addr else { return false }
                        peers[id]?.session = session
                        peers[id]?.backoff = .milliseconds(100)
                        return true
                    }
                    guard kept else {
                        _ = session.close()
                        return
                    }
                    self.live.add(session)
                    logger.info("peer session open", metadata: ["relay": "\(id)", "addr": "\(addr)"])
                    session.closeFuture.whenComplete { _ in
                        let again = self.peers.withLockedValue { peers -> Bool in
                            guard peers[id]?.session === session else { return false }
                            peers[id]?.session = nil
                            return peers[id]?.wanted == true
                        }
                        if again {
                            logger.warning("peer session ended; opening another", metadata: ["relay": "\(id)", "addr": "\(addr)"])
                            self.retry(id, addr)
                        }
                    }
                case .failure(let error):
                    logger.warning("cannot reach peer relay", metadata: ["relay": "\(id)", "addr": "\(addr)", "error": "\(error)"])
                    self.retry(id, addr)
                }
            }
    }

    private func retry(_ id: String, _ addr: String) {
        let delay = peers.withLockedValue { peers -> TimeAmount? in
            guard var peer = peers[id], peer.wanted, peer.addr == addr else { return nil }
            let d = peer.backoff
            peer.backoff = min(peer.backoff * 2, .seconds(5))
            peers[id] = peer
            return d
        }
        guard let delay else { return }
        group.next().scheduleTask(in: delay) { self.connect(id, addr) }
    }
}
