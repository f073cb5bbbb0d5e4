/// The version both binaries report (`health`, the agent's hello, `--version`).
public enum BuildVersion {
    public static let current = "0.15.0"
}
