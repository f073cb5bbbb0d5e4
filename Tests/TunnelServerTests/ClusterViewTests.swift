import Etcd
import Foundation
import XCTest

@testable import TunnelServer

/// The cluster view from etcd keys alone: members, other relays' tunnels, the rules and carriers
/// they give.
final class ClusterViewTests: XCTestCase {
    func kv(_ key: String, _ value: some Encodable) -> EtcdKeyValue {
        EtcdKeyValue(key: key, value: Array(try! JSONEncoder.cluster.encode(value)))
    }

    func member(_ id: String, peer: String?) -> ClusterMember {
        ClusterMember(id: id, peerAddr: peer, advertise: id, version: "t", startedAt: Date(timeIntervalSince1970: 0))
    }

    func testListingThenEventsGiveRulesAndCarriers() {
        var view = ClusterView(prefix: "/c/", me: "a")
        view.reset([
            kv("/c/members/a", member("a", peer: "10.0.0.1:7000")),
            kv("/c/members/b", member("b", peer: "10.0.0.2:7000")),
            kv("/c/members/c", member("c", peer: nil)),
            kv("/c/tunnels/web/a", TunnelRecord(relay: "a", hostnames: ["mine.test"], sessions: 1, weight: 1, policy: false)),
            kv("/c/tunnels/web/b", TunnelRecord(relay: "b", hostnames: ["app.test"], sessions: 2, weight: 2, policy: false)),
            kv("/c/tunnels/db/c", TunnelRecord(relay: "c", hostnames: ["db.test"], sessions: 1, weight: 1, policy: false)),
            kv("/c/tunnels/locked/b", TunnelRecord(relay: "b", hostnames: ["locked.test"], sessions: 1, weight: 1, policy: true)),
            EtcdKeyValue(key: "/c/identity", value: [1, 2, 3]),
            EtcdKeyValue(key: "/c/tunnels/bad/b", value: Array("not json".utf8)),
        ], revision: 10)
        XCTAssertEqual(view.members.keys.sorted(), ["a", "b", "c"])
        XCTAssertEqual(view.remoteRules, ["app.test": "web", "db.test": "db", "locked.test": "locked"], "its own records are not the view's")
        XCTAssertEqual(view.carriers(of: "web").map(\.relay), ["b"])
        XCTAssertEqual(view.carriers(of: "web").first?.peerAddr, "10.0.0.2:7000")
        XCTAssertTrue(view.carriers(of: "db").isEmpty, "a relay without a peer address carries nothing")
        XCTAssertTrue(view.carriers(of: "locked").isEmpty, "a tunnel with a policy is served only where it is held")
        XCTAssertTrue(view.holds("locked"))
        XCTAssertFalse(view.holds("bad"))

        let changed = view.apply(EtcdWatchBatch(revision: 11, events: [
            EtcdEvent(kind: .delete, kv: EtcdKeyValue(key: "/c/tunnels/web/b", value: [])),
            EtcdEvent(kind: .delete, kv: EtcdKeyValue(key: "/c/members/c", value: [])),
        ]))
        XCTAssertTrue(changed)
        XCTAssertEqual(view.revision, 11)
        XCTAssertNil(view.remoteRules["app.test"])
        XCTAssertFalse(view.holds("web"))
        XCTAssertEqual(view.members.keys.sorted(), ["a", "b"])
        XCTAssertFalse(view.apply(EtcdWatchBatch(revision: 12, events: [])), "a progress notice changes nothing")
    }

    /// Two relays claiming one hostname for different tunnels: every relay picks the same one.
    func testConflictingHostnamesResolveAlikeEverywhere() {
        var one = ClusterView(prefix: "/c/", me: "x")
        var two = ClusterView(prefix: "/c/", me: "y")
        let kvs = [
            kv("/c/tunnels/t2/b", TunnelRecord(relay: "b", hostnames: ["same.test"], sessions: 1, weight: 1, policy: false)),
            kv("/c/tunnels/t1/c", TunnelRecord(relay: "c", hostnames: ["same.test"], sessions: 1, weight: 1, policy: false)),
        ]
        one.reset(kvs, revision: 1)
        two.reset(kvs.reversed(), revision: 1)
        XCTAssertEqual(one.remoteRules, two.remoteRules)
        XCTAssertEqual(one.remoteRules["same.test"], "t1")
    }
}
