import Foundation
import XCTest

/// Starts real processes (our binaries, Python peers, curl) for end-to-end tests on loopback, and
/// stops every one of them when the test ends. Every wait is bounded.
final class Harness {
    private var processes: [Process] = []
    private var tempFiles: [URL] = []
    let root: URL
    let binDir: URL

    init() throws {
        // Tests/EndToEndTests/Harness.swift -> package root.
        root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // The test bundle sits beside the products in the build directory.
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        var found: URL?
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("tunnel-agent").path) {
                found = dir
                break
            }
            dir = dir.deletingLastPathComponent()
        }
        if found == nil {
            let fallback = root.appendingPathComponent(".build/debug")
            if FileManager.default.isExecutableFile(atPath: fallback.appendingPathComponent("tunnel-agent").path) { found = fallback }
        }
        guard let found else { throw HarnessError("cannot find the tunnel-agent binary near \(exe.path); run `swift build` first") }
        binDir = found
    }

    deinit {
        stopAll()
    }

    func stopAll() {
        for p in processes where p.isRunning {
            p.terminate()
        }
        for p in processes {
            let deadline = Date().addingTimeInterval(3)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        processes.removeAll()
        for f in tempFiles { try? FileManager.default.removeItem(at: f) }
    }

    /// A running process whose combined output is collected into a file we can poll.
    final class Running {
        let process: Process
        let log: URL
        init(process: Process, log: URL) {
            self.process = process
            self.log = log
        }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// How many file descriptors the process holds now (Linux: the entries of /proc/<pid>/fd).
        func openFileDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count
        }

        /// Polls the descriptor count until it is at most `limit` or `timeout` passes; returns the
        /// last count. Closes are asynchronous, so a leak check waits a bounded time to settle.
        func waitForFileDescriptors(atMost limit: Int, timeout: TimeInterval = 15) throws -> Int {
            let deadline = Date().addingTimeInterval(timeout)
            var count = try openFileDescriptors()
            while count > limit && Date() < deadline {
                usleep(100_000)
                count = try openFileDescriptors()
            }
            return count
        }

        /// Waits until `pattern` (a regex) matches the output; returns the first capture group.
        func wait(for pattern: String, timeout: TimeInterval = 20) throws -> String {
            let regex = try NSRegularExpression(pattern: pattern)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let text = output
                if let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                    if m.numberOfRanges > 1, let r = Range(m.range(at: 1), in: text) { return String(text[r]) }
                    return String(text[Range(m.range, in: text)!])
                }
                if !process.isRunning {
                    throw HarnessError("process exited (\(process.terminationStatus)) before printing /\(pattern)/:\n\(text)")
                }
                usleep(20_000)
            }
            throw HarnessError("timed out waiting for /\(pattern)/ in:\n\(output)")
        }

        /// The port a service of ours reports as listening (`service=<name>` on the same line).
        func port(ofService name: String) throws -> Int {
            let p = try wait(for: "address=\\S*:(\\d+) .*service=\(NSRegularExpression.escapedPattern(for: name)) ")
            return Int(p)!
        }
    }

    func tempFile(_ name: String, contents: String? = nil) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)-\(name)")
        if let contents { try? contents.write(to: url, atomically: true, encoding: .utf8) }
        tempFiles.append(url)
        return url
    }

    @discardableResult
    func start(_ executable: String, _ arguments: [String]) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let log = tempFile("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        processes.append(p)
        return Running(process: p, log: log)
    }

    func agent(_ arguments: [String]) throws -> Running {
        try start(binDir.appendingPathComponent("tunnel-agent").path, arguments)
    }

    func server(_ arguments: [String]) throws -> Running {
        try start(binDir.appendingPathComponent("tunnel-server").path, arguments)
    }

    func python(_ script: String, _ arguments: [String]) throws -> Running {
        try start("/usr/bin/env", ["python3", root.appendingPathComponent("Tests/Support/\(script)").path] + arguments)
    }

    /// Runs a command to completion (bounded) and returns its exit status and output.
    func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> (status: Int32, output: String) {
        let r = try start(executable, arguments)
        let deadline = Date().addingTimeInterval(timeout)
        while r.process.isRunning && Date() < deadline { usleep(10_000) }
        if r.process.isRunning {
            r.process.terminate()
            throw HarnessError("\(executable) \(arguments) did not finish in \(timeout)s:\n\(r.output)")
        }
        r.process.waitUntilExit()
        return (r.process.terminationStatus, r.output)
    }

    func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run("/usr/bin/env", ["curl", "-sS", "-m", "15"] + arguments, timeout: 30)
    }

    /// curl on an admin API (`http://127.0.0.1:<port>/api<path>`): the status code (the last line
    /// curl writes) and the body parsed as JSON (nil when it is not).
    func api(_ port: Int, _ method: String, _ path: String, body: String? = nil, credentials: String? = nil) throws -> (code: Int, json: Any?) {
        var args = ["-s", "-X", method, "-w", "\n%{http_code}"]
        if let credentials { args += ["-u", credentials] }
        if let body { args += ["-H", "Content-Type: application/json", "-d", body] }
        let r = try curl(args + ["http://127.0.0.1:\(port)/api\(path)"])
        let lines = r.output.components(separatedBy: "\n")
        let text = lines.dropLast().joined(separator: "\n")
        return (Int(lines.last ?? "") ?? -1, try? JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    /// A visitor's plain-HTTP request to a relay's public port with this `Host`: the status code
    /// and the body.
    func visit(publicPort: Int, host: String, _ path: String, _ extra: [String] = []) throws -> (code: Int, body: String) {
        let r = try curl(["-s", "-w", "\n%{http_code}", "-H", "Host: \(host)"] + extra + ["http://127.0.0.1:\(publicPort)\(path)"])
        let lines = r.output.components(separatedBy: "\n")
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    /// The `X-Sha256` an `http_origin.py` blob answer carried (its head saved with `curl -D`) and
    /// the SHA-256 of what was saved of its body.
    func blobDigests(headers: URL, body: URL) throws -> (expected: String?, got: String?) {
        let expected = try String(contentsOf: headers, encoding: .utf8).lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("x-sha256:") }?
            .dropFirst("x-sha256:".count).trimmingCharacters(in: .whitespaces)
        let got = try run("/usr/bin/env", ["sha256sum", body.path]).output.split(separator: " ").first.map(String.init)
        return (expected, got)
    }

    /// The request count of an `http_origin.py` (its `/count`).
    func originCount(_ port: Int) throws -> Int {
        let r = try curl(["http://127.0.0.1:\(port)/count"])
        return (try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])?["count"] as? Int ?? -1
    }

    func runPython(_ script: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        try run("/usr/bin/env", ["python3", root.appendingPathComponent("Tests/Support/\(script)").path] + arguments, timeout: timeout)
    }

    /// A local origin web server (Python's http.server) serving one known page.
    func origin() throws -> (port: Int, body: String) {
        let dir = tempFile("www")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let body = "origin page \(UUID().uuidString)\n"
        try body.write(to: dir.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        let r = try start("/usr/bin/env", ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", dir.path])
        let port = try r.wait(for: "port (\\d+)")
        return (Int(port)!, body)
    }

    func echo(_ kind: String) throws -> Int {
        let r = try python("echo_server.py", [kind, "300"])
        return Int(try r.wait(for: "PORT (\\d+)"))!
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Base of the end-to-end test classes: a fresh harness per test, every process stopped after it.
class EndToEndTestCase: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws {
        h = try Harness()
    }

    override func tearDown() {
        h?.stopAll()
        h = nil
    }

    /// A throwaway CA and a P-256 server certificate for `names` (SANs; wildcards allowed), made
    /// by openssl (`Tests/Support/make_test_ca.sh`).
    struct TestCA {
        var dir: URL
        var ca: String { dir.appendingPathComponent("ca.pem").path }
        var cert: String { dir.appendingPathComponent("server.pem").path }
        var key: String { dir.appendingPathComponent("server.key").path }
    }

    func makeCA(_ names: [String]) throws -> TestCA {
        let dir = h.tempFile("ca")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let made = try h.run("/bin/bash", [h.root.appendingPathComponent("Tests/Support/make_test_ca.sh").path, dir.path] + names)
        XCTAssertEqual(made.status, 0, made.output)
        return TestCA(dir: dir)
    }

    /// A loopback port that was free a moment ago (bound to 0 and released), TCP and UDP.
    func freePort() throws -> Int {
        let script = "import socket\nwhile True:\n s=socket.socket(); s.bind(('127.0.0.1',0)); p=s.getsockname()[1]\n u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n try:\n  u.bind(('127.0.0.1',p)); break\n except OSError: pass\nprint(p)"
        let r = try h.run("/usr/bin/env", ["python3", "-c", script])
        return Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines))!
    }
}

/// A relay on embedded defaults, as the tunnel test classes start it.
/// A relay, an agent exposing an `http_origin.py`, and the admin API port under test (the
/// relay's or the agent's).
struct APIFixture {
    var relay: Relay
    var api: Int
    var originPort: Int
    var agent: Harness.Running
}

struct Relay {
    var process: Harness.Running
    var agentPort: Int
    var publicPort: Int
    var token: String
    var pin: String
    var stateDir: String
}

extension EndToEndTestCase {
    /// A relay on embedded defaults, on free loopback ports (or the given ones), with its own state
    /// directory (or the given one), plus `extra` flags.
    func startRelay(_ extra: [String] = [], stateDir: String? = nil, agentPort: Int = 0, publicPort: Int = 0) throws -> Relay {
        let dir = stateDir ?? h.tempFile("state").path
        let r = try h.server(["--state-dir", dir, "--agent-addr", "127.0.0.1:\(agentPort)", "--public-addr", "127.0.0.1:\(publicPort)"] + extra)
        let ap = try r.port(ofService: "agents")
        let pp = try r.port(ofService: "public")
        let pin = try r.wait(for: "sha256 ([0-9a-f]{64})")
        let token = try String(contentsOfFile: dir + "/agent-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return Relay(process: r, agentPort: ap, publicPort: pp, token: token, pin: pin, stateDir: dir)
    }

    /// The flags that attach an agent to `relay`.
    func agentArgs(_ relay: Relay) -> [String] {
        ["--relay", "127.0.0.1:\(relay.agentPort)", "--token", relay.token, "--pin", relay.pin]
    }
}
