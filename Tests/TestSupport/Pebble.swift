import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts Debian's `pebble` (a test ACME server) and `pebble-challtestsrv` (its DNS server) on free
/// loopback ports, for tests that issue real certificates. It lives in the `TestSupport` target so
/// the ACME library's tests and the relay's end-to-end tests share it; it needs only Foundation,
/// `openssl` and the two binaries.
///
/// - pebble's HTTPS API uses a throwaway CA made with openssl (``caFile`` is what a client trusts).
/// - Validation: pebble resolves every name through challtestsrv, which answers A = 127.0.0.1 for
///   any name, then connects to ``httpPort`` (http-01) or ``tlsPort`` (tls-alpn-01) on loopback, where
///   the test runs its responders. dns-01 TXT records are set through challtestsrv's management API
///   (``setTXT(host:value:)`` or `curl -d '{"host":…,"value":…}' <managementURL>/set-txt`).
/// - `PEBBLE_VA_NOSLEEP=1` (no random validation delay), `PEBBLE_WFE_NONCEREJECT=0` (no random
///   badNonce: the badNonce retry is tested deterministically instead).
public final class Pebble: @unchecked Sendable {
    public let directory: URL
    public let acmePort: Int
    public let managementPort: Int
    public let httpPort: Int
    public let tlsPort: Int
    public let dnsPort: Int
    public let challengeManagementPort: Int
    private var processes: [Process] = []

    public var directoryURL: String { "https://127.0.0.1:\(acmePort)/dir" }
    /// pebble's management API (HTTPS, same certificate): `/roots/0`, `/intermediates/0`.
    public var managementURL: String { "https://127.0.0.1:\(managementPort)" }
    /// challtestsrv's management API (plain HTTP): `/set-txt`, `/clear-txt`.
    public var challengeManagementURL: String { "http://127.0.0.1:\(challengeManagementPort)" }
    /// The CA that signed pebble's HTTPS certificate.
    public var caFile: String { directory.appendingPathComponent("ca.pem").path }
    public var pebbleLog: String { directory.appendingPathComponent("pebble.log").path }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// pebble's certificate lifetime in seconds (its `certificateValidityPeriod`); nil: its default.
    public let validitySeconds: Int?

    /// Makes the certificates and config, starts both servers and waits (bounded) until they listen.
    /// `httpPort`/`tlsPort` are where pebble validates HTTP-01 and TLS-ALPN-01 (a relay's public
    /// and HTTPS ports); free ports are picked when they are not given.
    public init(httpPort givenHTTPPort: Int? = nil, tlsPort givenTLSPort: Int? = nil, validitySeconds: Int? = nil) throws {
        self.validitySeconds = validitySeconds
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pebble-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var ports = Set([givenHTTPPort, givenTLSPort].compactMap { $0 })
        func fresh() throws -> Int {
            for _ in 0..<20 {
                let port = try Self.freeLoopbackPort()
                if ports.insert(port).inserted { return port }
            }
            throw Failure(description: "no free loopback port")
        }
        acmePort = try fresh()
        managementPort = try fresh()
        httpPort = try givenHTTPPort ?? fresh()
        tlsPort = try givenTLSPort ?? fresh()
        dnsPort = try fresh()
        challengeManagementPort = try fresh()
        do {
            try makeCertificates()
            try writeConfig()
            try startChallengeTestServer()
            try startPebble()
            try Self.waitForPort(challengeManagementPort, what: "pebble-challtestsrv")
            try Self.waitForPort(acmePort, what: "pebble")
        } catch {
            stop()
            throw Failure(description: "\(error); pebble log: \(logTail())")
        }
    }

    /// Kills both servers (SIGTERM, then SIGKILL after a bounded wait) and removes the temp dir.
    public func stop() {
        for process in processes where process.isRunning {
            process.terminate()
        }
        for process in processes {
            var waited = 0
            while process.isRunning && waited < 50 {
                usleep(100_000)
                waited += 1
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        processes.removeAll()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        stop()
    }

    /// The last part of pebble's log, for failure messages.
    public func logTail(_ bytes: Int = 4000) -> String {
        guard let data = FileManager.default.contents(atPath: pebbleLog) else { return "(no log)" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }

    /// pebble's issuing root (`/roots/0`, new at every start) in a file, for clients to trust.
    public func rootFile() throws -> String {
        let path = directory.appendingPathComponent("issuing-root.pem").path
        try Self.run("/usr/bin/curl", ["-fsS", "--max-time", "10", "--cacert", caFile, "-o", path, managementURL + "/roots/0"])
        return path
    }

    /// How often `text` occurs in pebble's log (orders placed, names validated).
    public func logCount(_ text: String) throws -> Int {
        let log = (try? String(contentsOfFile: pebbleLog, encoding: .utf8)) ?? ""
        return log.components(separatedBy: text).count - 1
    }

    // MARK: Setup

    private func makeCertificates() throws {
        let ext = directory.appendingPathComponent("ext.cnf").path
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            .write(toFile: ext, atomically: true, encoding: .utf8)
        let d = directory.path
        try Self.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=pebble test CA", "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem",
        ])
        try Self.run("/usr/bin/openssl", [
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "\(d)/key.pem", "-out", "\(d)/server.csr",
        ])
        try Self.run("/usr/bin/openssl", [
            "x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", "\(d)/cert.pem",
        ])
    }

    private func writeConfig() throws {
        var pebble: [String: Any] = [
                "listenAddress": "127.0.0.1:\(acmePort)",
                "managementListenAddress": "127.0.0.1:\(managementPort)",
                "certificate": directory.appendingPathComponent("cert.pem").path,
                "privateKey": directory.appendingPathComponent("key.pem").path,
                "httpPort": httpPort,
                "tlsPort": tlsPort,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
        ]
        if let validitySeconds { pebble["certificateValidityPeriod"] = validitySeconds }
        let config: [String: Any] = ["pebble": pebble]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent("pebble.json"))
    }

    private func startChallengeTestServer() throws {
        try launch("/usr/bin/pebble-challtestsrv", [
            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", "127.0.0.1:\(dnsPort)",
            "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", "127.0.0.1:\(challengeManagementPort)",
        ], log: "challtestsrv.log", environment: [:])
    }

    private func startPebble() throws {
        try launch("/usr/bin/pebble", [
            "-config", directory.appendingPathComponent("pebble.json").path,
            "-dnsserver", "127.0.0.1:\(dnsPort)",
        ], log: "pebble.log", environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"])
    }

    private func launch(_ executable: String, _ arguments: [String], log: String, environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let logURL = directory.appendingPathComponent(log)
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
        processes.append(process)
    }

    // MARK: challtestsrv

    /// Adds a TXT record (`host` fully qualified, trailing dot).
    public func setTXT(host: String, value: String) throws {
        try postManagement("/set-txt", ["host": host, "value": value])
    }

    public func clearTXT(host: String) throws {
        try postManagement("/clear-txt", ["host": host])
    }

    private func postManagement(_ path: String, _ body: [String: String]) throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        try Self.run("/usr/bin/curl", ["-fsS", "--max-time", "10", "-d", json, challengeManagementURL + path])
    }

    // MARK: Helpers

    /// Runs a short command to completion (bounded by the tools' own behaviour), failing on non-zero.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// A TCP port nobody listens on right now (bind to port 0, read it back, close).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on the loopback port: at most 100 tries, 100 ms apart.
    static func waitForPort(_ port: Int, what: String) throws {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if connected == 0 { return }
            usleep(100_000)
        }
        throw Failure(description: "\(what) did not listen on 127.0.0.1:\(port) within 10 s")
    }
}
