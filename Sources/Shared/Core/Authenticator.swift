/// Checks proxy credentials. One decision point shared by every handler, so HTTP and SOCKS can
/// never disagree about who may pass.
public struct Authenticator: Sendable {
    private let users: [String: String]

    /// No credentials configured means the proxy is open, as in GOST.
    public var isOpen: Bool { users.isEmpty }

    public init(_ credentials: [Credentials]) {
        var users: [String: String] = [:]
        for c in credentials { users[c.username] = c.password }
        self.users = users
    }

    public func verify(username: String, password: String) -> Bool {
        guard !users.isEmpty else { return true }
        guard let expected = users[username] else { return false }
        // Constant-time compare so timing does not reveal how much of a password matched.
        let a = Array(expected.utf8)
        let b = Array(password.utf8)
        var diff = a.count ^ b.count
        for i in 0..<max(a.count, b.count) {
            diff |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return diff == 0
    }
}
