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

    /// This rewrite, then `later`'s, which wins where both say something.
    func then(_ later: RequestRewrite) -> RequestRewrite {
        RequestRewrite(host: later.host ?? host, request: request.then(later.request), response: response.then(later.response))
    }

    /// The rewrites of `layers` (the relay's first), applied so the relay's own win.
    static func merged(_ layers: [VisitorPolicy]) -> RequestRewrite {
        if layers.count == 1 { return layers[0].rewrite }
        return layers.reversed().reduce(RequestRewrite.none) { $0.then($1.rewrite) }
    }
}
