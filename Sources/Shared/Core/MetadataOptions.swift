/// A component's settings read from GOST's free-form `metadata`, declared by the type that reads
/// them.
///
/// Why: metadata has no schema, so a misspelt key would silently mean "default". Each protocol
/// keeps one options type that both parses its keys and lists them; the registry collects the
/// lists (`Registry.declare`) and keys nobody declares are reported at start with their path
/// (`Config.unknownMetadataKeys`). There is no second list of known keys to forget to update.
public protocol MetadataOptions: Sendable {
    /// Every key this type reads.
    static var metadataKeys: Set<String> { get }
}

extension Registry {
    /// Counts `options`' keys as read by this binary.
    public mutating func declare(_ options: any MetadataOptions.Type) {
        metadataKeys.formUnion(options.metadataKeys)
    }
}
