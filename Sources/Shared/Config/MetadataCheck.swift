extension Config {
    /// Metadata keys that no component of the engine reads, each with its path
    /// (`services[0].handler.metadata.tunel.id`).
    ///
    /// Why: metadata is free-form, as in GOST, so a config carrying an option this engine does
    /// not have, or a misspelt one (`registrationTimeot`), would otherwise run as if the line were
    /// not there. They are reported, not refused: GOST configs legitimately carry options of
    /// GOST's own that change nothing here. A key given in a URL's query lands in both the
    /// handler's and the listener's metadata; it is reported once, at the handler.
    public func unknownMetadataKeys(known: Set<String>) -> [String] {
        var found: [String] = []
        func check(_ metadata: Metadata?, _ path: String, skipping: Metadata? = nil) {
            for key in (metadata?.values.keys).map({ Array($0) })?.sorted() ?? [] where !known.contains(key) {
                if let skipping, skipping[key] == metadata?[key] { continue }
                found.append("\(path).\(key)")
            }
        }
        for (si, s) in (self.services ?? []).enumerated() {
            check(s.metadata, "services[\(si)].metadata")
            check(s.handler.metadata, "services[\(si)].handler.metadata")
            check(s.listener.metadata, "services[\(si)].listener.metadata", skipping: s.handler.metadata)
        }
        for (ci, chain) in (self.chains ?? []).enumerated() {
            for (hi, hop) in chain.hops.enumerated() {
                for (ni, node) in hop.nodes.enumerated() {
                    let path = "chains[\(ci)].hops[\(hi)].nodes[\(ni)]"
                    check(node.connector?.metadata, "\(path).connector.metadata")
                    check(node.dialer?.metadata, "\(path).dialer.metadata", skipping: node.connector?.metadata)
                }
            }
        }
        return found
    }
}
