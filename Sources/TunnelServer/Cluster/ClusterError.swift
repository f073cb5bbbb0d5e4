/// A cluster set-up or store failure: what it concerns (a flag, an etcd key) and why.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
