import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Shared
import TunnelProtocol

/// Reads a relay UDP port and hands each datagram to the flow table.
final class RelayUDPPortHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let port: Int
    private let tunnel: String
    private let directory: any TunnelDirectory
    private let flows: RelayUDPFlows

    init(port: Int, tunnel: String, directory: any TunnelDirectory, flows: RelayUDPFlows) {
        self.port = port
        self.tunnel = tunnel
        self.directory = directory
        self.flows = flows
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        flows.fromClient(envelope.data, client: envelope.remoteAddress, port: port, socket: context.channel, tunnel: tunnel, directory: directory)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // One bad datagram (or an ICMP error) never closes the port.
    }
}
