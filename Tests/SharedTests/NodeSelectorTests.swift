import XCTest

@testable import Shared

final class NodeSelectorTests: XCTestCase {
    func nodes(_ n: Int) -> [Node] {
        (0..<n).map { Node(name: "n\($0)", address: HostPort(host: "127.0.0.1", port: 1000 + $0)) }
    }

    func testRoundRobinCyclesThroughNodes() {
        let s = NodeSelector(nodes: nodes(3), options: SelectorOptions(strategy: .round))
        XCTAssertEqual((0..<6).map { _ in s.select()! }, [0, 1, 2, 0, 1, 2])
    }

    func testFifoPrefersTheFirstLiveNode() {
        let s = NodeSelector(nodes: nodes(3), options: SelectorOptions(strategy: .fifo, maxFails: 2, failTimeout: .seconds(10)))
        XCTAssertEqual(s.select(), 0)
        s.markFailure(0)
        XCTAssertEqual(s.select(), 0, "one failure is below maxFails")
        s.markFailure(0)
        XCTAssertEqual(s.select(), 1)
        s.markSuccess(0)
        XCTAssertEqual(s.select(), 0)
    }

    func testFailedNodeComesBackAfterFailTimeout() {
        let start = ContinuousClock.now
        let s = NodeSelector(nodes: nodes(2), options: SelectorOptions(strategy: .fifo, maxFails: 1, failTimeout: .seconds(5)))
        s.markFailure(0, now: start)
        XCTAssertEqual(s.select(now: start + .seconds(1)), 1)
        XCTAssertEqual(s.select(now: start + .seconds(6)), 0)
    }

    func testAllFailedStillSelectsSomething() {
        let s = NodeSelector(nodes: nodes(2), options: SelectorOptions(strategy: .round))
        s.markFailure(0)
        s.markFailure(1)
        XCTAssertNotNil(s.select())
        XCTAssertEqual(s.select(excluding: [0, 1]), nil)
    }

    func testRandomStaysWithinAvailableNodes() {
        let s = NodeSelector(nodes: nodes(4), options: SelectorOptions(strategy: .rand))
        s.markFailure(2)
        var seen = Set<Int>()
        for _ in 0..<200 { seen.insert(s.select()!) }
        XCTAssertFalse(seen.contains(2))
        XCTAssertEqual(seen, [0, 1, 3])
    }
}
