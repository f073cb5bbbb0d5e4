/// What a reload did: the changes applied, or why none was (the config's path and reason).
public struct ReloadOutcome: Sendable, Codable, Equatable {
    /// What changed, one line each (`service public restarted`, `rules: 3 from the config`).
    public var changes: [String]
    /// Services that could not start (their reason), by name; the rest of the reload stands.
    public var failed: [String: String]
    /// Set when the reload was refused: nothing changed.
    public var error: String?
    public var path: String?

    public var refused: Bool { error != nil }

    public init(changes: [String], failed: [String: String], error: String?, path: String?) {
        self.changes = changes
        self.failed = failed
        self.error = error
        self.path = path
    }

    /// Every key written (`null` where absent), as the OpenAPI document lists them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(changes, forKey: .changes)
        try c.encode(failed, forKey: .failed)
        try c.encode(error, forKey: .error)
        try c.encode(path, forKey: .path)
    }
}

