/// The SOCKS5 server's metadata (GOST's keys).
public struct SOCKS5Options: MetadataOptions, Equatable {
    public static let metadataKeys: Set<String> = ["udp"]

    /// Whether UDP ASSOCIATE is served (`udp`; on by default here, unlike GOST).
    public var udp = true

    public init() {}

    public init(metadata: Metadata) {
        udp = metadata.bool("udp") ?? true
    }
}
