import Foundation
import NIOCore
import TestSupport
import XCTest

@testable import Etcd

/// The client against a real etcd (Debian's `etcd-server`) on loopback.
final class EtcdClientTests: XCTestCase {
    var cluster: EtcdCluster!
    var client: EtcdClient!

    override func setUpWithError() throws {
        cluster = try EtcdCluster()
        client = try EtcdClient(EtcdConfiguration(endpoints: [cluster.endpoints]))
    }

    override func tearDown() async throws {
        try? await client?.shutdown()
        cluster?.stop()
    }

    func testPutGetListDelete() async throws {
        let p = "/t\(UUID().uuidString.prefix(6))/"
        try await client.put(p + "a", Array("1".utf8))
        try await client.put(p + "b", [0, 255, 10])
        try await client.put(String(p.dropLast()) + "x", Array("outside".utf8))
        let a = try await client.get(p + "a")
        XCTAssertEqual(a?.value, Array("1".utf8))
        let missing = try await client.get(p + "none")
        XCTAssertNil(missing)
        let listed = try await client.list(prefix: p)
        XCTAssertEqual(listed.kvs.map(\.key), [p + "a", p + "b"])
        XCTAssertEqual(listed.kvs[1].value, [0, 255, 10], "binary values round-trip")
        XCTAssertGreaterThanOrEqual(listed.revision, listed.kvs[1].modRevision)
        let gone = try await client.delete(prefix: p)
        XCTAssertEqual(gone, 2)
        let after = try await client.list(prefix: p)
        XCTAssertTrue(after.kvs.isEmpty)
    }

    /// Of several concurrent creates of one key, exactly one wins and all see its value.
    func testCreateHasOneWinner() async throws {
        let key = "/race/\(UUID().uuidString)"
        let client = self.client!
        let results = try await withThrowingTaskGroup(of: (Int, EtcdKeyValue?).self) { group in
            for i in 0..<8 { group.addTask { (i, try await client.create(key, Array("\(i)".utf8))) } }
            var all: [(Int, EtcdKeyValue?)] = []
            for try await r in group { all.append(r) }
            return all
        }
        let winners = results.filter { $0.1 == nil }
        XCTAssertEqual(winners.count, 1)
        let stored = try await client.get(key)
        XCTAssertEqual(stored?.value, Array("\(winners[0].0)".utf8))
        for (_, existing) in results where existing != nil { XCTAssertEqual(existing?.value, stored?.value) }
        let swapped = try await client.replace(key, Array("new".utf8), ifModRevision: stored!.modRevision)
        XCTAssertTrue(swapped)
        let stale = try await client.replace(key, Array("stale".utf8), ifModRevision: stored!.modRevision)
        XCTAssertFalse(stale, "a compare-and-swap on an old revision fails")
    }

    /// A key on a lease goes when the lease is not kept alive; keep-alives hold it.
    func testLeaseKeepsAndDropsItsKeys() async throws {
        let lease = try await client.grantLease(ttl: 2)
        try await client.put("/lease/held", Array("x".utf8), lease: lease)
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(700))
            let ttl = try await client.keepAlive(lease: lease)
            XCTAssertGreaterThan(ttl, 0)
        }
        let held = try await client.get("/lease/held")
        XCTAssertEqual(held?.lease, lease)
        var gone = false
        for _ in 0..<50 where !gone {
            try await Task.sleep(for: .milliseconds(100))
            gone = try await client.get("/lease/held") == nil
        }
        XCTAssertTrue(gone, "the key went with its lease")
        let ttl = try await client.keepAlive(lease: lease)
        XCTAssertEqual(ttl, 0, "an ended lease renews to 0")
        let other = try await client.grantLease(ttl: 30)
        try await client.put("/lease/revoked", [1], lease: other)
        try await client.revoke(lease: other)
        let revoked = try await client.get("/lease/revoked")
        XCTAssertNil(revoked)
    }

    /// A watch from a listed revision sees every later change, in order, and nothing before.
    func testWatchFromARevisionSeesEveryChange() async throws {
        let p = "/w\(UUID().uuidString.prefix(6))/"
        try await client.put(p + "before", [1])
        let start = try await client.list(prefix: p).revision
        var watch = try await client.watch(prefix: p, from: start + 1)
        for i in 0..<20 { try await client.put(p + "k\(i % 5)", Array("\(i)".utf8)) }
        try await client.delete(p + "k0")
        var events: [EtcdEvent] = []
        var last: Int64 = 0
        while events.count < 21, let batch = try await watch.next() {
            XCTAssertGreaterThan(batch.revision, last)
            last = batch.revision
            events += batch.events
        }
        XCTAssertEqual(events.count, 21)
        XCTAssertEqual(events.prefix(20).map { String(decoding: $0.kv.value, as: UTF8.self) }, (0..<20).map { "\($0)" })
        XCTAssertEqual(events.last?.kind, .delete)
        XCTAssertEqual(events.last?.kv.key, p + "k0")
        XCTAssertFalse(events.contains { $0.kv.key == p + "before" })
    }

    /// A dead endpoint first in the list is skipped for the live one; none live is a clear error.
    func testFailsOverToTheNextEndpoint() async throws {
        let dead = "http://127.0.0.1:\(try Pebble.freeLoopbackPort())"
        let both = try EtcdClient(EtcdConfiguration(endpoints: [dead, cluster.endpoints]))
        defer { Task { try? await both.shutdown() } }
        try await both.put("/failover", [7])
        let value = try await both.get("/failover")
        XCTAssertEqual(value?.value, [7])
        let none = try EtcdClient(EtcdConfiguration(endpoints: [dead]))
        do {
            _ = try await none.get("/x")
            XCTFail("no endpoint answers")
        } catch let error as EtcdError {
            XCTAssertEqual(error.kind, .unavailable)
            XCTAssertTrue(error.description.contains(dead), error.description)
        }
        try await none.shutdown()
    }
}
