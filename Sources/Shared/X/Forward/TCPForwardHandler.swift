import Logging
import NIOCore

/// Port forwarding (`tcp`): every connection goes to one of the forwarder's nodes, through the chain.
public struct TCPForwardHandler: StreamHandler {
    public init(options: ComponentOptions = ComponentOptions()) {}

    public func handle(_ io: Handshake, context: HandlerContext) async throws {
        guard let forwarder = context.forwarder else {
            throw EngineError(.unsupported, "tcp handler needs forwarder nodes")
        }
        let (upstream, node) = try await forwarder.dial(router: context.router, on: io.channel.eventLoop, logger: context.logger)
        context.logger.debug("forwarding", metadata: ["client": "\(io.channel.remoteAddress.map { "\($0)" } ?? "?")", "target": "\(node.address)"])
        try await io.splice(with: upstream)
    }
}
