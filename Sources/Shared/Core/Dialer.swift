import Logging
import NIOCore

/// How a node is reached: opens a transport (TCP, TLS, ...) to the node's address.
///
/// The returned connection carries plain bytes to the node (a TLS dialer leaves its TLS handler in
/// the pipeline), ready for the node's `Connector`. Its handshake reader is installed before the
/// connection can read, so bytes the node sends first (a banner, a preface) are never lost.
public protocol Dialer: Sendable {
    func dial(_ address: HostPort, on eventLoop: EventLoop, logger: Logger) async throws -> Handshake
}

/// What a dialer, connector or handler learns at construction: its options.
public struct ComponentOptions: Sendable {
    public var metadata: Metadata
    public var auth: Credentials?
    public var tls: TLSOptions?

    public init(metadata: Metadata = Metadata(), auth: Credentials? = nil, tls: TLSOptions? = nil) {
        self.metadata = metadata
        self.auth = auth
        self.tls = tls
    }
}

/// A username and password, for proxy authentication in either direction.
public struct Credentials: Sendable, Hashable, Codable {
    /// Either may be left out of a config's `auth` (then empty), and either may be written as a
    /// number (`password: 1234`): see `OrDefault` and `CodingKeys`.
    @OrDefault public var username: String
    @OrDefault public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `CaseIterable`, so that a config's `auth` refuses keys it does not know (`StrictDecoder`);
    /// both values are text (`TextKeys`).
    enum CodingKeys: String, CodingKey, CaseIterable, TextKeys {
        case username, password
        var isText: Bool { true }
    }
}
