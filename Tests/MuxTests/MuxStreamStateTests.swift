import NIOCore
import XCTest

@testable import Mux

final class MuxStreamStateTests: XCTestCase {
    func testLocalThenRemoteFin() throws {
        var s = MuxStreamState()
        XCTAssertTrue(s.canSend && s.canReceive)
        XCTAssertFalse(try s.sendFin())
        XCTAssertEqual(s.state, .halfClosedLocal)
        XCTAssertThrowsError(try s.sendData())
        XCTAssertNoThrow(try s.receiveData())
        XCTAssertTrue(try s.receiveFin())
        XCTAssertEqual(s.state, .closed)
    }

    func testRemoteThenLocalFin() throws {
        var s = MuxStreamState()
        XCTAssertFalse(try s.receiveFin())
        XCTAssertEqual(s.state, .halfClosedRemote)
        XCTAssertThrowsError(try s.receiveData()) { XCTAssertEqual(($0 as? MuxError)?.code, .streamClosed) }
        XCTAssertNoThrow(try s.sendData())
        XCTAssertTrue(try s.sendFin())
        XCTAssertTrue(s.isClosed)
    }

    func testDoubleFinIsAnError() throws {
        var s = MuxStreamState()
        _ = try s.receiveFin()
        XCTAssertThrowsError(try s.receiveFin())
        var t = MuxStreamState()
        _ = try t.sendFin()
        XCTAssertThrowsError(try t.sendFin())
    }

    func testResetClosesFromAnyState() throws {
        for prepare in [{ (_: inout MuxStreamState) in }, { _ = try? $0.sendFin() }, { _ = try? $0.receiveFin() }] {
            var s = MuxStreamState()
            prepare(&s)
            s.reset()
            XCTAssertTrue(s.isClosed)
            XCTAssertFalse(s.canSend)
            XCTAssertFalse(s.canReceive)
        }
    }
}
