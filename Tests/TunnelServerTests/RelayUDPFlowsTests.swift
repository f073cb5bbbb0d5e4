import Logging
import Mux
import NIOCore
import NIOEmbedded
import XCTest

@testable import TunnelServer

/// The relay's rudp flow table: a reply is accepted only from the session the flow was given to.
final class RelayUDPFlowsTests: XCTestCase {
    let loop = EmbeddedEventLoop()

    func session() throws -> (MuxSession, EmbeddedChannel) {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let session = try channel.pipeline.syncOperations.addMuxSession(
            role: .responder, configuration: .tunnel, logger: Logger(label: "test"),
            inboundStreamInitializer: { ch, _ in ch.eventLoop.makeSucceededVoidFuture() })
        // The peer's preface (docs/mux.md §2) makes the session active.
        var preface = ByteBuffer(string: "TMUX")
        preface.writeBytes([1, 0, 0, 0])
        preface.writeInteger(UInt32(65_536))
        try channel.writeInbound(preface)
        return (session, channel)
    }

    /// Everything the session wrote to its transport, as one buffer.
    func written(_ channel: EmbeddedChannel) throws -> ByteBuffer {
        loop.run()
        var all = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&part) }
        return all
    }

    /// The flow ID of the last DATAGRAM frame in `bytes` (docs/mux.md §3: 9-byte header).
    func lastDatagramFlow(_ bytes: ByteBuffer, payloadLength: Int) -> UInt32? {
        let start = bytes.writerIndex - (9 + payloadLength)
        guard start >= bytes.readerIndex, bytes.getInteger(at: start + 3, as: UInt8.self) == 0x07 else { return nil }
        return bytes.getInteger(at: start + 5, as: UInt32.self)
    }

    func testRepliesAreAcceptedOnlyFromTheSessionThatOwnsTheFlow() throws {
        let directory = LocalTunnelDirectory()
        let flows = RelayUDPFlows()
        let (owner, ownerTransport) = try session()
        let (other, _) = try session()
        let (unregistered, _) = try session()
        directory.claim(owner, tunnel: "victim", hostnames: [])
        directory.claim(other, tunnel: "attacker", hostnames: [])
        let socket = EmbeddedChannel(loop: loop)
        let client = try SocketAddress(ipAddress: "127.0.0.9", port: 5353)
        _ = try written(ownerTransport)
        flows.fromClient(ByteBuffer(string: "query"), client: client, port: 7000, socket: socket, tunnel: "victim", directory: directory)
        let id = try XCTUnwrap(lastDatagramFlow(try written(ownerTransport), payloadLength: 2 + 5))

        var reply = ByteBuffer()
        reply.writeInteger(UInt16(7000))
        reply.writeString("forged")
        flows.fromAgent(flowID: id, payload: reply, session: other)
        flows.fromAgent(flowID: id, payload: reply, session: unregistered)
        XCTAssertNil(try socket.readOutbound(as: AddressedEnvelope<ByteBuffer>.self), "a reply from another session reached the client")
        XCTAssertEqual(flows.refusedDatagrams, 2)

        var real = ByteBuffer()
        real.writeInteger(UInt16(7000))
        real.writeString("answer")
        flows.fromAgent(flowID: id, payload: real, session: owner)
        let delivered = try XCTUnwrap(try socket.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        XCTAssertEqual(delivered.remoteAddress, client)
        XCTAssertEqual(String(buffer: delivered.data), "answer")
    }

    /// Flow IDs are random: not 1, 2, 3… as they were, so none can be guessed from a count.
    func testFlowIDsAreNotSequential() throws {
        let directory = LocalTunnelDirectory()
        let flows = RelayUDPFlows()
        let (owner, transport) = try session()
        directory.claim(owner, tunnel: "t", hostnames: [])
        let socket = EmbeddedChannel(loop: loop)
        _ = try written(transport)
        var ids: [UInt32] = []
        for port in 1...16 {
            flows.fromClient(ByteBuffer(string: "x"), client: try SocketAddress(ipAddress: "127.0.0.9", port: port), port: 7000, socket: socket, tunnel: "t", directory: directory)
            ids.append(try XCTUnwrap(lastDatagramFlow(try written(transport), payloadLength: 3)))
        }
        XCTAssertEqual(Set(ids).count, 16)
        XCTAssertFalse(ids.allSatisfy { $0 <= 64 }, "\(ids)")
    }
}
