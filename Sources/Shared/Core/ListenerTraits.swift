/// What the engine must know about a listener type beyond how to make one.
///
/// Why: GOST's remote forwarding listeners (`rtcp`, `rudp`) accept through a chain instead of
/// binding a local port, and `-L rtcp://…` names the listener as well as the handler. Declared as
/// traits by the module that provides such a listener (the agent), the engine's config rules
/// (`URLSpec`, `EngineOptions`, `EngineBuilder`) follow them without naming any type.
public struct ListenerTraits: Sendable {
    /// It accepts through a chain: the service's `listener.chain` is legal (and handed to the
    /// factory), and the `-F` hops belong to the listener rather than to the handler.
    public var usesChain = false
    /// A bare `-L` scheme of this name picks this listener as well as the handler of that name
    /// (`-L udp://…`, `-L rtcp://…`), as GOST does.
    public var namedByScheme = false

    public init(usesChain: Bool = false, namedByScheme: Bool = false) {
        self.usesChain = usesChain
        self.namedByScheme = namedByScheme
    }
}
