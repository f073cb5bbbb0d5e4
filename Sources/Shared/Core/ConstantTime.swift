/// Secrets compared in time that depends only on their lengths, so a response's timing reveals
/// no prefix: agent tokens, visitors' plain passwords and API keys, the admin API's credentials.
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = a.count ^ b.count
        for i in 0..<max(a.count, b.count) {
            diff |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return diff == 0
    }
}
