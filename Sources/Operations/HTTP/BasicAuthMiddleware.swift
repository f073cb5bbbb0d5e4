import Foundation
import Hummingbird
import Shared

/// Requires HTTP basic credentials on every request of the router it is added to (the metrics
/// listener, the admin API and its dashboard), compared in constant time.
///
/// Why not HummingbirdAuth's authenticators: one fixed user from the config is all these
/// listeners take, and the answer must be a 401 with a `WWW-Authenticate` challenge (so a
/// browser opening the dashboard asks for them), not a context to fill.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let username: [UInt8]
    let password: [UInt8]
    let realm: String

    init(_ credentials: Credentials, realm: String) {
        self.username = Array(credentials.username.utf8)
        self.password = Array(credentials.password.utf8)
        self.realm = realm
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let value = request.headers[.authorization], accepts(value) else {
            var response = JSONResponse.error(.unauthorized, "credentials required")
            response.headers[.wwwAuthenticate] = "Basic realm=\"\(realm)\", charset=\"UTF-8\""
            return response
        }
        return try await next(request, context)
    }

    /// Whether `Authorization: Basic <base64(user:pass)>` names this user and password.
    func accepts(_ header: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)) else { return false }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return false }
        // Both compared whatever the first gives, so timing tells neither.
        let userOK = ConstantTime.equal(Array(bytes[..<colon]), username)
        let passOK = ConstantTime.equal(Array(bytes[(colon + 1)...]), password)
        return userOK && passOK
    }
}
