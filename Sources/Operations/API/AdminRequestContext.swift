import Hummingbird
import NIOCore

/// The request context of the admin API: Hummingbird's, plus the caller's address (every write
/// is logged with it) and a small upload limit (the API takes rules, not files).
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who called, as the socket says.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { 64 * 1024 }
}
