import Mux
import NIOCore

/// Sends the local target's replies back over the session, on the flow they belong to.
final class AgentUDPReply: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let flowID: UInt32
    private let port: UInt16
    private weak var session: MuxSession?

    init(flowID: UInt32, port: UInt16, session: MuxSession?) {
        self.flowID = flowID
        self.port = port
        self.session = session
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        var framed = context.channel.allocator.buffer(capacity: envelope.data.readableBytes + 2)
        framed.writeInteger(port)
        framed.writeImmutableBuffer(envelope.data)
        session?.sendDatagram(flowID: flowID, framed)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP unreachable for one datagram: the flow stays.
    }
}
