import Foundation
import Logging

/// A `dns-01` solver that delegates the TXT record to an external command, with lego's `exec`
/// provider convention so existing hook scripts work unchanged:
///
///     <command> present _acme-challenge.example.com. <txt-value>
///     <command> cleanup _acme-challenge.example.com. <txt-value>
///
/// The name is fully qualified with a trailing dot and has a wildcard's `*.` removed. `present` must
/// return only once the record is published (the CA queries right after). A non-zero exit fails the
/// challenge with the end of the command's stderr; a command running past `timeout` is killed.
public struct DNSHook: ACMEChallengeSolver {
    public var command: String
    public var timeout: Duration
    /// How much of the command's stderr is kept for the error message.
    public var stderrLimit: Int
    public var logger: Logger

    public init(command: String, timeout: Duration = .seconds(120), stderrLimit: Int = 2048, logger: Logger) {
        self.command = command
        self.timeout = timeout
        self.stderrLimit = stderrLimit
        self.logger = logger
    }

    /// The hook's failure: which action, the exit status (or the timeout) and the stderr tail.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var stderr: String

        public var description: String {
            stderr.isEmpty ? "DNS hook: \(reason)" : "DNS hook: \(reason): \(stderr)"
        }
    }

    public func choose(from kinds: [ACMEChallenge.Kind], for identifier: String, wildcard: Bool) -> ACMEChallenge.Kind? {
        kinds.contains(.dns01) ? .dns01 : nil
    }

    public func present(_ challenge: ACMEChallenge) async throws {
        try await run("present", fqdn: challenge.dnsName, value: challenge.dnsTXTValue)
    }

    public func cleanup(_ challenge: ACMEChallenge) async {
        do {
            try await run("cleanup", fqdn: challenge.dnsName, value: challenge.dnsTXTValue)
        } catch {
            // A stale TXT record is harmless; it must not fail an issuance that already succeeded.
            logger.warning("DNS hook cleanup failed", metadata: ["fqdn": "\(challenge.dnsName)", "error": "\(error)"])
        }
    }

    /// Runs `<command> <action> <fqdn> <value>`.
    public func run(_ action: String, fqdn: String, value: String) async throws {
        logger.debug("DNS hook", metadata: ["action": "\(action)", "fqdn": "\(fqdn)"])
        let result = try await HookProcess.run(
            executable: command,
            arguments: [action, fqdn, value],
            timeout: timeout,
            stderrLimit: stderrLimit
        )
        let stderr = result.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
        if result.timedOut {
            throw Failure(reason: "\(command) \(action) \(fqdn) killed after \(timeout)", stderr: stderr)
        }
        if result.exitStatus != 0 {
            throw Failure(reason: "\(command) \(action) \(fqdn) exited with status \(result.exitStatus)", stderr: stderr)
        }
    }
}
