/// One step of a chain: a set of interchangeable nodes and the selector that picks among them.
public struct Hop: Sendable {
    public var name: String
    public var selector: NodeSelector

    public init(name: String, nodes: [Node], options: SelectorOptions = SelectorOptions()) {
        self.name = name
        self.selector = NodeSelector(nodes: nodes, options: options)
    }
}

/// An ordered list of hops that a connection crosses before it reaches its target.
public struct Chain: Sendable {
    public var name: String
    public var hops: [Hop]

    public init(name: String, hops: [Hop]) {
        self.name = name
        self.hops = hops
    }
}

/// The targets of a port-forwarding handler (`tcp`, `udp`), picked with a selector.
public struct Forwarder: Sendable {
    public var selector: NodeSelector

    public init(nodes: [Node], options: SelectorOptions = SelectorOptions()) {
        self.selector = NodeSelector(nodes: nodes, options: options)
    }
}
