import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Caps how many connections public listeners hold at once: in all, and per source address (as
/// GOST's `climiter` with `$` and `$$`, or nginx's `limit_conn`). Without it, slowly dribbling
/// connections fill the process's file descriptors and shut out every visitor and every agent;
/// with it, one address can hold only its share, the whole only what leaves room for the rest (the
/// agents' port is not counted here, so agents can always attach).
///
/// A connection over either cap is closed as soon as it is accepted (it costs one accept and one
/// close); `admit` and `release` are the only operations, under one lock.
public final class ConnectionLimiter: Sendable {
    /// The most connections at once; 0 = no cap.
    public let maxTotal: Int
    /// The most connections at once from one source address; 0 = no cap.
    public let maxPerAddress: Int

    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
        var refused = 0
        /// When a refusal was last reported at info level (the others go to debug).
        var lastReport: NIODeadline?
    }
    /// How often a refusal is reported to the operator at info level.
    static let reportInterval = TimeAmount.seconds(10)
    private let state = NIOLockedValueBox(State())

    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Why a connection was not admitted.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        case total(Int)
        case perAddress(Int)

        public var description: String {
            switch self {
            case .total(let n): return "the public connection limit (\(n)) is reached"
            case .perAddress(let n): return "this address holds the most connections allowed (\(n))"
            }
        }
    }

    /// Counts a new connection from `address`; nil when admitted (then `release` must follow once
    /// it closes), else why not (nothing is counted).
    public func admit(_ address: String) -> Refusal? {
        state.withLockedValue { s in
            if maxTotal > 0, s.total >= maxTotal {
                s.refused &+= 1
                return .total(maxTotal)
            }
            let mine = s.perAddress[address, default: 0]
            if maxPerAddress > 0, mine >= maxPerAddress {
                s.refused &+= 1
                return .perAddress(maxPerAddress)
            }
            s.total += 1
            s.perAddress[address] = mine + 1
            return nil
        }
    }

    /// An admitted connection from `address` closed.
    public func release(_ address: String) {
        state.withLockedValue { s in
            s.total -= 1
            let left = s.perAddress[address, default: 1] - 1
            s.perAddress[address] = left > 0 ? left : nil
        }
    }

    /// What counts as one source: an IPv4 address, or an IPv6 /64 (one host gets a whole /64 and
    /// can pick any address in it, so counting single IPv6 addresses would cap nothing).
    public static func sourceKey(_ address: SocketAddress) -> String {
        guard case .v6(let v6) = address else { return address.ipAddress ?? "?" }
        var ip = v6.address.sin6_addr
        let bytes = withUnsafeBytes(of: &ip) { Array($0) }
        // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        return stride(from: 0, to: 8, by: 2).map { String(format: "%02x%02x", bytes[$0], bytes[$0 + 1]) }.joined(separator: ":") + "::/64"
    }

    /// Whether a refusal now should be reported at info level (at most once per interval).
    func shouldReport(now: NIODeadline = .now()) -> Bool {
        state.withLockedValue { s in
            if let last = s.lastReport, now - last < Self.reportInterval { return false }
            s.lastReport = now
            return true
        }
    }

    /// Connections held now, and refused so far.
    public var counts: (open: Int, refused: Int) {
        state.withLockedValue { ($0.total, $0.refused) }
    }
}

extension ConnectionLimiter {
    /// Admits an accepted connection (released when it closes) or closes it at once. A refusal is
    /// reported at info level at most once per 10 s, with the count so far, the rest at debug: a
    /// flood must not become a flood of log lines.
    public func acquire(for io: Handshake, logger: Logger) -> Bool {
        let address = io.channel.remoteAddress.map(Self.sourceKey) ?? "?"
        if let refusal = admit(address) {
            if shouldReport() {
                logger.info("public connection refused: \(refusal)", metadata: ["client": "\(address)", "refused": "\(counts.refused)"])
            } else {
                logger.debug("public connection refused: \(refusal)", metadata: ["client": "\(address)"])
            }
            io.close()
            return false
        }
        io.channel.closeFuture.whenComplete { _ in self.release(address) }
        return true
    }
}
