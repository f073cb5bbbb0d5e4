import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs an external command off the event loops and the cooperative pool, bounded in time, keeping
/// only the tail of its stderr for the error message.
///
/// `Process` waits are blocking, so the whole run happens on a Dispatch worker thread and the caller
/// awaits a continuation: a slow hook holds one Dispatch thread, never an event loop.
enum HookProcess {
    struct Result: Sendable {
        var exitStatus: Int32
        var timedOut: Bool
        var stderrTail: String
    }

    static func run(
        executable: String,
        arguments: [String],
        timeout: Duration,
        stderrLimit: Int
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Swift.Result {
                        try runBlocking(
                            executable: executable,
                            arguments: arguments,
                            timeout: timeout,
                            stderrLimit: stderrLimit
                        )
                    }
                )
            }
        }
    }

    private static func runBlocking(
        executable: String,
        arguments: [String],
        timeout: Duration,
        stderrLimit: Int
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let stderrPipe = Pipe()
        process.standardError = stderrPipe
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw ACMEError("cannot run \(executable): \(error)")
        }
        // The child has its copy of the write end; ours must go or the reader never sees EOF.
        try? stderrPipe.fileHandleForWriting.close()

        let tail = TailBuffer(limit: stderrLimit)
        let readerDone = DispatchSemaphore(value: 0)
        let reader = stderrPipe.fileHandleForReading
        DispatchQueue.global().async {
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                tail.append(chunk)
            }
            readerDone.signal()
        }

        var timedOut = false
        if exited.wait(timeout: .now() + timeout.timeInterval) == .timedOut {
            timedOut = true
            process.terminate()
            if exited.wait(timeout: .now() + 2) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                exited.wait()
            }
        }
        // A grandchild may still hold stderr open; do not wait for it beyond a moment.
        _ = readerDone.wait(timeout: .now() + 2)
        return Result(exitStatus: process.terminationStatus, timedOut: timedOut, stderrTail: tail.text)
    }

    /// The last `limit` bytes written to it; older bytes are dropped as new ones arrive.
    private final class TailBuffer: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes = [UInt8]()
        private let limit: Int

        init(limit: Int) {
            self.limit = max(0, limit)
        }

        func append(_ data: Data) {
            lock.lock()
            defer { lock.unlock() }
            bytes.append(contentsOf: data.suffix(limit))
            if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
        }

        var text: String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
