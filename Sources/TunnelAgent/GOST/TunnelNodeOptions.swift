import Shared

/// The metadata of a chain node that is the relay, in GOST's agent form
/// (`-F "tunnel+tls://relay:8443?tunnel.id=<uuid>&pin=<sha256>"`). The node's TLS keys are the
/// engine's (`TLSText`); these are the tunnel's own.
public struct TunnelNodeOptions: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = ["tunnel.id", "tunnel", "tunnel.weight", "hostnames", "pin", "token", "path", "wss.caFile"]

    /// The tunnel to serve (`tunnel.id`, or GOST's `tunnel`).
    public var tunnelID: String?
    /// Hostnames routed to it (`hostnames`, comma-separated).
    public var hostnames: [String] = []
    /// This agent's share of the tunnel's streams (`tunnel.weight`, 1-255).
    public var weight: Int?
    /// SHA-256 of the relay's certificate (`pin`).
    public var pin: String?
    /// The agent token, when not given as the node's password (`token`).
    public var token: String?
    /// The WebSocket request path of a `tunnel+ws`/`tunnel+wss` node (`path`, GOST's ws key;
    /// default: the relay's `/_tunnel/agent`).
    public var path: String?
    /// For `tunnel+wss`: the CA file (PEM) the outer HTTPS is verified with instead of the
    /// system roots (`wss.caFile`).
    public var wssCAFile: String?

    public init() {}

    /// Throws a `ConfigError` at `path` (the metadata's own path) for a weight out of range.
    public init(metadata: [String: String], path: String) throws {
        tunnelID = metadata["tunnel.id"] ?? metadata["tunnel"]
        hostnames = (metadata["hostnames"] ?? "").split(separator: ",").map(String.init)
        pin = metadata["pin"]
        token = metadata["token"]
        wssCAFile = metadata["wss.caFile"]
        if let p = metadata["path"] {
            guard p.hasPrefix("/") else {
                throw ConfigError(path: "\(path).path", reason: "a WebSocket path starts with /, got \"\(p)\"")
            }
            self.path = p
        }
        if let text = metadata["tunnel.weight"] {
            guard let w = Int(text), (1...255).contains(w) else {
                throw ConfigError(path: "\(path).tunnel.weight", reason: "takes 1-255, got \"\(text)\"")
            }
            weight = w
        }
    }
}
