import Shared
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
        for candidate in tokens where ConstantTime.equal(candidate, given) { found = true }
        return found
    }

    /// The token of `Bearer <token>` (scheme in any case), on the bytes.
    static func token(fromAuthorization value: String) -> String? {
        let u = Array(value.utf8)
        guard u.count > 7, u[6] == UInt8(ascii: " "), String(decoding: u[0..<6], as: UTF8.self).lowercased() == "bearer" else { return nil }
        var a = 7
        var b = u.count
        while a < b, u[a] == UInt8(ascii: " ") { a += 1 }
        while b > a, u[b - 1] == UInt8(ascii: " ") { b -= 1 }
        return a < b ? String(decoding: u[a..<b], as: UTF8.self) : nil
    }
}
