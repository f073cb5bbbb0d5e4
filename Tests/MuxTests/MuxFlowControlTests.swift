import NIOCore
import XCTest

@testable import Mux

final class MuxFlowControlTests: XCTestCase {
    func testSendWindow() throws {
        var w = MuxSendWindow()
        XCTAssertEqual(w.available, 256 * 1024)
        w.consume(256 * 1024)
        XCTAssertEqual(w.available, 0)
        try w.grant(100)
        XCTAssertEqual(w.available, 100)
        XCTAssertThrowsError(try w.grant(UInt32(Int32.max))) { XCTAssertEqual(($0 as? MuxError)?.code, .flowControlError) }
    }

    func testReceiveWindowRejectsOverrun() throws {
        var w = MuxReceiveWindow(maxSize: 1 << 24)
        try w.receive(256 * 1024)
        XCTAssertThrowsError(try w.receive(1)) { XCTAssertEqual(($0 as? MuxError)?.code, .flowControlError) }
    }

    func testReceiveWindowGrantsAtHalf() throws {
        var w = MuxReceiveWindow(maxSize: 1 << 24)
        let now = NIODeadline.now()
        try w.receive(100_000)
        XCTAssertNil(w.consume(100_000, now: now, rtt: nil, growthBudget: .max))
        try w.receive(50_000)
        let update = w.consume(50_000, now: now, rtt: nil, growthBudget: .max)
        XCTAssertEqual(update?.increment, 150_000)
        XCTAssertEqual(update?.grewBy, 0)
        XCTAssertEqual(w.available, 256 * 1024)
    }

    func testReceiveWindowGrowsWhileReaderKeepsUpAndRespectsCaps() throws {
        var w = MuxReceiveWindow(maxSize: 1024 * 1024)
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let rtt = TimeAmount.milliseconds(10)
        // A fast reader: half a window per millisecond, far quicker than 2 RTTs.
        for _ in 0..<20 {
            let half = w.size / 2
            try w.receive(half)
            _ = w.consume(half, now: now, rtt: rtt, growthBudget: .max)
            now = now + .milliseconds(1)
        }
        XCTAssertEqual(w.size, 1024 * 1024, "grows to the cap, not beyond")
        // The session budget stops growth.
        var b = MuxReceiveWindow(maxSize: 1 << 24)
        for _ in 0..<10 {
            let half = b.size / 2
            try b.receive(half)
            _ = b.consume(half, now: now, rtt: rtt, growthBudget: 0)
            now = now + .milliseconds(1)
        }
        XCTAssertEqual(b.size, 256 * 1024)
        // A slow reader (slower than 2 RTT per half window) does not grow it.
        var s = MuxReceiveWindow(maxSize: 1 << 24)
        for _ in 0..<10 {
            let half = s.size / 2
            try s.receive(half)
            _ = s.consume(half, now: now, rtt: rtt, growthBudget: .max)
            now = now + .milliseconds(50)
        }
        XCTAssertEqual(s.size, 256 * 1024)
    }
}
