/// One proxy server of a hop, or one target of a forwarder: an address, how to reach it
/// (`dialer`) and what to say to it to go further (`connector`).
public struct Node: Sendable {
    public var name: String
    public var address: HostPort
    public var dialer: any Dialer
    public var connector: (any Connector)?

    public init(name: String, address: HostPort, dialer: any Dialer = TCPDialer(), connector: (any Connector)? = nil) {
        self.name = name
        self.address = address
        self.dialer = dialer
        self.connector = connector
    }
}
