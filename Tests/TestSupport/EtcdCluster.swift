import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts Debian's `etcd` (3.4) on free loopback ports: one member, or a cluster of several for
/// the failure tests; members can be killed and started again on their data. Lives in
/// `TestSupport` so the etcd client's tests and the relays' end-to-end tests share it.
public final class EtcdCluster: @unchecked Sendable {
    public struct Member {
        public var name: String
        public var clientPort: Int
        public var peerPort: Int
        public var process: Process?
        public var clientURL: String { "http://127.0.0.1:\(clientPort)" }
    }

    public let directory: URL
    public private(set) var members: [Member] = []

    /// Every member's client URL, comma-separated (what `--etcd` takes).
    public var endpoints: String { members.map(\.clientURL).joined(separator: ",") }

    /// Starts `size` members and waits (bounded) until the cluster answers.
    public init(size: Int = 1) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var used = Set<Int>()
        func fresh() throws -> Int {
            for _ in 0..<20 {
                let port = try Pebble.freeLoopbackPort()
                if used.insert(port).inserted { return port }
            }
            throw Pebble.Failure(description: "no free loopback port")
        }
        for i in 0..<size {
            members.append(Member(name: "m\(i)", clientPort: try fresh(), peerPort: try fresh()))
        }
        do {
            for i in members.indices { try start(i) }
            for m in members { try Pebble.waitForPort(m.clientPort, what: "etcd \(m.name)") }
            try waitHealthy()
        } catch {
            stop()
            throw Pebble.Failure(description: "\(error); etcd log: \(logTail(0))")
        }
    }

    /// Starts member `i` (again, on its data directory after a kill).
    public func start(_ i: Int) throws {
        let m = members[i]
        let initial = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", m.name, "--data-dir", directory.appendingPathComponent(m.name).path,
            "--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
            "--listen-peer-urls", "http://127.0.0.1:\(m.peerPort)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(m.peerPort)",
            "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", directory.lastPathComponent,
            "--heartbeat-interval", "50", "--election-timeout", "500",
        ]
        let log = directory.appendingPathComponent("\(m.name).log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
        members[i].process = process
    }

    /// SIGKILLs member `i` and waits for it to be gone.
    public func kill(_ i: Int) {
        guard let p = members[i].process, p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        members[i].process = nil
    }

    /// Waits (bounded, 20 s) until `/health` of a running member says true.
    public func waitHealthy() throws {
        for _ in 0..<200 {
            for m in members where m.process?.isRunning == true {
                if let out = try? Pebble.run("/usr/bin/curl", ["-s", "--max-time", "1", m.clientURL + "/health"]), out.contains("\"true\"") { return }
            }
            usleep(100_000)
        }
        throw Pebble.Failure(description: "etcd did not become healthy within 20 s")
    }

    public func stop() {
        for i in members.indices { kill(i) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// The end of member `i`'s log, for failure messages.
    public func logTail(_ i: Int, bytes: Int = 3000) -> String {
        guard i < members.count, let data = FileManager.default.contents(atPath: directory.appendingPathComponent("\(members[i].name).log").path) else { return "(no log)" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }
}
