import Foundation

/// A rule's API keys (`bearerTokens`), accepted as `Authorization: Bearer <key>`. Compared in
/// constant time per candidate, every candidate compared, so timing reveals neither a prefix nor
/// which key matched.
final class BearerTokens: Sendable {
    private let tokens: [[UInt8]]

    init(_ tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    func accepts(_ token: String) -> Bool {
        let given = Array(token.utf8)
        var found = false
        for candidate in tokens where BasicAuthUsers.constantTimeEqual(candidate, given) { found = true }
        return found
    }

    /// The token of `Bearer <token>` (scheme in any case).
    static func token(fromAuthorization value: String) -> String? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
