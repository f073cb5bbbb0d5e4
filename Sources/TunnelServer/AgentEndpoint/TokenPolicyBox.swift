import NIOConcurrencyHelpers

/// The agent tokens in force, replaceable while the relay runs (a reload re-reads the tokens
/// file). Every agent endpoint reads it at each registration, so a token added is accepted and
/// a token removed refused from the next hello on, with no listener restarted.
public final class TokenPolicyBox: Sendable {
    private let value: NIOLockedValueBox<TokenPolicy>

    public init(_ policy: TokenPolicy) {
        value = NIOLockedValueBox(policy)
    }

    public var current: TokenPolicy { value.withLockedValue { $0 } }

    /// Puts `policy` in force: its principals join the owners table's live set, and those of
    /// the tokens it no longer has leave it (what they held is free).
    public func replace(_ policy: TokenPolicy) {
        let old = current.principals
        policy.owners.addLive(policy.principals)
        policy.owners.removeLive(old.subtracting(policy.principals).subtracting(["operator", "open"]))
        value.withLockedValue { $0 = policy }
    }
}
