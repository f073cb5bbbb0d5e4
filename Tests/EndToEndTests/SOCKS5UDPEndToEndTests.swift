import Foundation
import XCTest

/// SOCKS5 UDP ASSOCIATE against our binary, with a Python client (Tests/Support/socks5_udp.py):
/// the association's lifetime, whose datagrams it takes as the client's, which replies it passes
/// back, and what a datagram it cannot send does to it.
final class SOCKS5UDPEndToEndTests: EndToEndTestCase {
    private func start() throws -> (proxy: Harness.Running, port: Int, echo: Int) {
        let echo = try h.echo("udp")
        let proxy = try h.agent(["-L", "socks5://127.0.0.1:0"])
        return (proxy, try proxy.port(ofService: "cli-0"), echo)
    }

    /// An association ends with its control connection, relay socket and all: 200 of them opened,
    /// used and closed leave the proxy's descriptor count where it was.
    func testAssociationsReleaseTheirSocketsWhenTheClientCloses() throws {
        let (proxy, port, echo) = try start()
        // Warm-up: the first association sets up what the process keeps anyway.
        XCTAssertEqual(try h.runPython("socks5_udp.py", ["churn", "127.0.0.1", "\(port)", "\(echo)", "4"]).output, "OK 4\n")
        usleep(500_000)
        let baseline = try proxy.openFileDescriptors()
        let r = try h.runPython("socks5_udp.py", ["churn", "127.0.0.1", "\(port)", "\(echo)", "200"])
        XCTAssertEqual(r.output, "OK 200\n")
        let after = try proxy.waitForFileDescriptors(atMost: baseline + 10)
        XCTAssertLessThanOrEqual(after, baseline + 10, "descriptors: \(baseline) before 200 associations, \(after) after")
    }

    /// The request names the client's UDP address: a datagram from another port of the same host,
    /// even one that arrives first, neither takes the association over nor gets the client's replies.
    func testAnotherPortOfTheClientsHostCannotTakeOverTheAssociation() throws {
        let (_, port, echo) = try start()
        let r = try h.runPython("socks5_udp.py", ["impostor", "127.0.0.1", "\(port)", "\(echo)"], timeout: 60)
        XCTAssertEqual(r.output, "OK impostor\n")
    }

    /// Only replies from addresses the client has sent to come back; a stranger's datagrams, to
    /// either relay address, are dropped.
    func testOnlyRepliesFromTheClientsTargetsReachTheClient() throws {
        let (_, port, _) = try start()
        let r = try h.runPython("socks5_udp.py", ["unsolicited", "127.0.0.1", "\(port)"], timeout: 60)
        XCTAssertEqual(r.output, "OK unsolicited\n")
    }

    /// A datagram the relay cannot send (to port 0) is dropped; the association carries on.
    func testADatagramToPortZeroDoesNotEndTheAssociation() throws {
        let (proxy, port, echo) = try start()
        let r = try h.runPython("socks5_udp.py", ["port0", "127.0.0.1", "\(port)", "\(echo)"], timeout: 60)
        XCTAssertEqual(r.output, "OK port0\n")
        XCTAssertTrue(proxy.process.isRunning)
    }
}
