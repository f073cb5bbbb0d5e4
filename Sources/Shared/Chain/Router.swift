import Logging
import NIOCore

/// Reaches a target through a chain (or directly when there is none).
///
/// Hop 0's node is dialed with its dialer; each node's connector asks that node to reach the next
/// hop's node, and the last connector asks for the target. Failures mark the node that failed, so
/// the selector routes around it.
public struct Router: Sendable {
    public var chain: Chain?
    /// Upper bound on dialing plus every hop's handshake.
    public var timeout: TimeAmount

    public init(chain: Chain? = nil, timeout: TimeAmount = .seconds(15)) {
        self.chain = chain
        self.timeout = timeout
    }

    /// A connection carrying raw bytes to `target`, on `eventLoop` (so it can be glued lock-free).
    /// Its handshake reader is still installed, holding any bytes the target sent early; the
    /// caller's `splice` releases them.
    public func dial(_ target: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        guard let chain, !chain.hops.isEmpty else {
            return try await TCPDialer(connectTimeout: timeout).dial(target, on: eventLoop, logger: logger)
        }
        var picks: [(hop: Hop, index: Int)] = []
        for hop in chain.hops {
            guard let index = hop.selector.select() else {
                throw EngineError(.connectFailed, "chain \(chain.name): hop \(hop.name) has no nodes")
            }
            picks.append((hop, index))
        }
        let io = try await dialFirstNode(of: picks[0].hop, index: picks[0].index, chain: chain.name, on: eventLoop, logger: logger)
        let channel = io.channel
        let deadline = eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        for (i, pick) in picks.enumerated() {
            let node = pick.hop.selector.nodes[pick.index]
            let next = i + 1 < picks.count ? picks[i + 1].hop.selector.nodes[picks[i + 1].index].address : target
            guard let connector = node.connector else {
                channel.close(promise: nil)
                throw EngineError(.connectFailed, "chain \(chain.name): node \(node.name) has no connector")
            }
            do {
                try await connector.connect(io, to: next, logger: logger)
                pick.hop.selector.markSuccess(pick.index)
            } catch {
                channel.close(promise: nil)
                if let e = error as? EngineError, e.kind == .authenticationFailed || e.kind == .protocolViolation {
                    pick.hop.selector.markFailure(pick.index)
                } else if i + 1 < picks.count {
                    picks[i + 1].hop.selector.markFailure(picks[i + 1].index)
                }
                logger.debug("chain hop failed", metadata: ["chain": "\(chain.name)", "node": "\(node.name)", "next": "\(next)", "error": "\(error)"])
                throw error
            }
        }
        return io
    }
}

extension Forwarder {
    /// Dials a forwarder target through `router`, trying each node once before giving up.
    public func dial(router: Router, on eventLoop: EventLoop, logger: Logger) async throws -> (Handshake, Node) {
        var tried: Set<Int> = []
        var lastError: Error = EngineError(.connectFailed, "forwarder has no nodes")
        while let index = selector.select(excluding: tried) {
            tried.insert(index)
            let node = selector.nodes[index]
            do {
                let channel = try await router.dial(node.address, on: eventLoop, logger: logger)
                selector.markSuccess(index)
                return (channel, node)
            } catch {
                selector.markFailure(index)
                logger.warning("forward target failed", metadata: ["target": "\(node.address)", "error": "\(error)"])
                lastError = error
            }
        }
        throw lastError
    }
}

extension Router {
    /// A UDP association at the chain's node, for datagram handlers with a chain.
    ///
    /// Datagrams travel from here straight to the node's relay socket, so the chain must be a single
    /// hop whose connector carries datagrams (socks5); longer chains cannot pass UDP and are refused.
    public func associateUDP(on eventLoop: EventLoop, logger: Logger) async throws -> (control: Handshake, relay: HostPort) {
        guard let chain, chain.hops.count == 1 else {
            throw EngineError(.unsupported, "UDP can only cross a chain of one socks5 hop")
        }
        let hop = chain.hops[0]
        guard let index = hop.selector.select() else { throw EngineError(.connectFailed, "hop \(hop.name) has no nodes") }
        let node = hop.selector.nodes[index]
        guard let connector = node.connector as? DatagramConnector else {
            throw EngineError(.unsupported, "node \(node.name): its connector cannot carry UDP (use socks5)")
        }
        let io = try await dialFirstNode(of: hop, index: index, chain: chain.name, on: eventLoop, logger: logger)
        let channel = io.channel
        let deadline = eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        do {
            let relay = try await connector.associate(io, logger: logger)
            hop.selector.markSuccess(index)
            return (io, relay)
        } catch {
            hop.selector.markFailure(index)
            channel.close(promise: nil)
            throw error
        }
    }

    /// Dials the chosen node of a chain's first hop with its dialer; a failure marks the node.
    private func dialFirstNode(of hop: Hop, index: Int, chain: String, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake {
        let node = hop.selector.nodes[index]
        do {
            return try await node.dialer.dial(node.address, on: eventLoop, logger: logger)
        } catch {
            hop.selector.markFailure(index)
            throw EngineError(.connectFailed, "chain \(chain): dial \(node.name) (\(node.address)): \(error)")
        }
    }
}

/// A router dials like any dialer: plain TCP to the address, through its chain's hops (the agent
/// reaches a relay node behind proxies this way).
extension Router: Dialer {}
