import Shared

/// The relay's `socks5` handler metadata beyond plain SOCKS5's: `bind=true` lets agents open
/// ports through it (GOST's rtcp/rudp via a SOCKS5 node).
public struct RelaySOCKS5Options: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = ["bind"]

    public var bind = false

    public init() {}

    public init(metadata: Metadata) {
        bind = metadata.bool("bind") ?? false
    }
}
