import NIOCore

/// Where etcd is and how to reach it: value-type settings for `EtcdClient`.
public struct EtcdConfiguration: Sendable, Equatable {
    /// Client URLs (`http://10.0.0.1:2379`, `https://etcd-0.etcd:2379`); a failing one is skipped
    /// for the next.
    public var endpoints: [String]
    /// Trust for the endpoints' TLS (PEM), beyond the system's.
    public var caFile: String?
    /// A client certificate and key (PEM) for etcd's `--client-cert-auth`.
    public var certFile: String?
    public var keyFile: String?
    /// How long one unary call may take before the next endpoint is tried.
    public var callTimeout: TimeAmount = .seconds(5)

    public init(endpoints: [String], caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.endpoints = endpoints
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}
