#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Shared

/// The addresses a relay's name resolves to, for an agent that holds sessions to several relays
/// of a cluster behind one DNS name (each address a relay).
///
/// Only addresses of the first one's family count: a name with an A and an AAAA record is most
/// often one host reachable both ways, not two relays.
///
/// Why by hand: NIO resolves a name only to connect to one of its addresses; here every address
/// is wanted. Called once at start, off the event loops (a blocking `getaddrinfo`).
enum RelayAddresses {
    static func resolve(_ relay: HostPort, atMost limit: Int) -> [HostPort] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(relay.host, String(relay.port), &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var out: [HostPort] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        let family = first.pointee.ai_family
        while let ai = next, out.count < limit {
            next = ai.pointee.ai_next
            guard ai.pointee.ai_family == family else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let address = HostPort(host: text, port: relay.port)
            if !out.contains(address) { out.append(address) }
        }
        return out
    }
}
