@testable import Mux
import NIOCore
import XCTest

/// `MuxConfiguration.observer` hears every round trip and the window each stream ended with, on
/// both sides of a session (what the relay's and agent's Prometheus histograms are made of).
final class MuxObserverTests: XCTestCase {
    final class Recorder: MuxObserver {
        let rtts = MuxLockedValue<[TimeAmount]>([])
        let windows = MuxLockedValue<[Int]>([])
        func roundTrip(_ rtt: TimeAmount) { rtts.withLockedValue { $0.append(rtt) } }
        func streamEnded(receiveWindow: Int) { windows.withLockedValue { $0.append(receiveWindow) } }
    }

    func testRoundTripsAndStreamWindowsAreObserved() throws {
        let client = Recorder()
        let server = Recorder()
        var clientConfiguration = MuxConfiguration.testDefault
        clientConfiguration.observer = client
        var serverConfiguration = MuxConfiguration.testDefault
        serverConfiguration.observer = server
        let pair = try EmbeddedMuxPair(configuration: clientConfiguration, serverConfiguration: serverConfiguration)
        defer { pair.finish() }
        let before = client.rtts.withLockedValue { $0.count }
        let rtt = pair.clientSession.ping()
        try pair.interact()
        XCTAssertEqual(client.rtts.withLockedValue { $0.count }, before + 1)
        XCTAssertEqual(client.rtts.withLockedValue { $0.last }, try rtt.wait())

        let (stream, _) = try pair.openClientStream()
        let closed = stream.close()
        try pair.interact()
        try closed.wait()
        XCTAssertEqual(client.windows.withLockedValue { $0 }, [MuxProtocol.initialStreamWindow])
        XCTAssertEqual(server.windows.withLockedValue { $0 }, [MuxProtocol.initialStreamWindow])
    }
}
