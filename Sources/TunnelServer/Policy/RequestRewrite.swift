/// What the relay changes in one admitted request and its answer (a rule's `hostHeaderRewrite`,
/// `requestHeaders`, `responseHeaders`, and the credentials it checked, which are stripped unless
/// `passCredentials`). Applied by the HTTP/1 ingress to the head's bytes and by the h2 ingress to
/// the header block.
struct RequestRewrite: Sendable, Equatable {
    /// The `Host` (h2: `:authority`) the local service sees; nil: the visitor's.
    var host: String?
    var request = HeaderEdits.none
    var response = HeaderEdits.none

    static let none = RequestRewrite()

    var isEmpty: Bool { host == nil && request.isEmpty && response.isEmpty }
}
