/// The server's directory object (RFC 8555 §7.1.1): the only URL a client is configured with; every
/// other resource is discovered from it.
public struct ACMEDirectory: Sendable, Hashable, Codable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var newAuthz: String?
    public var revokeCert: String?
    public var keyChange: String?
    /// ACME Renewal Information (RFC 9773); absent on servers without ARI.
    public var renewalInfo: String?
    public var meta: Meta?

    public struct Meta: Sendable, Hashable, Codable {
        public var termsOfService: String?
        public var website: String?
        public var caaIdentities: [String]?
        public var externalAccountRequired: Bool?
    }

    public init(
        newNonce: String,
        newAccount: String,
        newOrder: String,
        newAuthz: String? = nil,
        revokeCert: String? = nil,
        keyChange: String? = nil,
        renewalInfo: String? = nil,
        meta: Meta? = nil
    ) {
        self.newNonce = newNonce
        self.newAccount = newAccount
        self.newOrder = newOrder
        self.newAuthz = newAuthz
        self.revokeCert = revokeCert
        self.keyChange = keyChange
        self.renewalInfo = renewalInfo
        self.meta = meta
    }
}
