import NIOCore

/// What `VisitorGate` says of one HTTP request (an HTTP/1 request or an h2 stream), before any
/// stream to the agent is opened.
enum Admission: Equatable {
    /// Send it on, rewritten so.
    case pass(RequestRewrite)
    /// Answer it here (401, 403, 429, …) and send nothing on.
    case refuse(Refusal)
    /// A password must be hashed to decide (bcrypt takes ~100 ms by design): run `check` off the
    /// event loop, then pass with `rewrite` or refuse with `refusal`.
    case verify(CredentialCheck)
}

/// An answer the relay gives in place of the local service's.
struct Refusal: Error, Equatable, Sendable {
    var status: Int
    var reason: String
    /// What the visitor reads (or the rule's own error page instead).
    var message: String
    /// Extra header fields (`WWW-Authenticate`, `Retry-After`).
    var headers: [HeaderEdits.Field] = []
    /// The rule's own page for this status (HTML), if it has one.
    var page: String?

    /// The HTTP/1.1 answer, with `Connection: close`.
    var http1: ByteBuffer {
        let extra = headers.map { "\($0.name): \($0.value)\r\n" }.joined()
        guard let page else { return ByteBuffer(string: EntrypointHandler.page(status, reason, message, extra: extra)) }
        return ByteBuffer(
            string: "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(page.utf8.count)\r\nConnection: close\r\n\(extra)\r\n\(page)")
    }
}

/// A credential check that needs a thread (`Admission.verify`).
struct CredentialCheck: Equatable, Sendable {
    /// Hashes and compares on `pool`, answering on `eventLoop`.
    let run: @Sendable (_ eventLoop: EventLoop) -> EventLoopFuture<Bool>
    /// Which check, for logs and tests (`basic:alice`).
    let label: String
    let rewrite: RequestRewrite
    let refusal: Refusal

    static func == (a: CredentialCheck, b: CredentialCheck) -> Bool {
        a.label == b.label && a.rewrite == b.rewrite && a.refusal == b.refusal
    }
}
