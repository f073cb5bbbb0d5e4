/// What answers challenges for ``ACMEClient/issue(names:certificateKey:solver:)``: an HTTP responder,
/// a TLS-ALPN responder, a DNS hook, or a combination that picks per identifier.
public protocol ACMEChallengeSolver: Sendable {
    /// Picks the challenge type to use for `identifier` among those the server offers, or nil when none
    /// can be answered (the issuance then fails with a clear error). Wildcard authorizations only offer
    /// `dns-01` on conforming servers.
    func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind?

    /// Puts the response in place (serve the key authorization, install the TXT record, ...). The
    /// client tells the server to validate only after this returns.
    func present(_ challenge: ACMEChallenge) async throws

    /// Removes what `present` put in place. Called whatever the outcome, also after `present` threw.
    func cleanup(_ challenge: ACMEChallenge) async
}
