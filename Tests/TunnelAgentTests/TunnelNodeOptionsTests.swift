import Shared
import XCTest

@testable import TunnelAgent

final class TunnelNodeOptionsTests: XCTestCase {
    func testParsesTheTunnelKeys() throws {
        let o = try TunnelNodeOptions(metadata: ["tunnel": "t1", "hostnames": "a.test,b.test", "tunnel.weight": "255", "pin": "ab", "token": "k"], path: "m")
        XCTAssertEqual(o.tunnelID, "t1")
        XCTAssertEqual(o.hostnames, ["a.test", "b.test"])
        XCTAssertEqual(o.weight, 255)
        XCTAssertEqual(o.pin, "ab")
        XCTAssertEqual(o.token, "k")
        XCTAssertEqual(try TunnelNodeOptions(metadata: [:], path: "m"), TunnelNodeOptions())
        for bad in ["0", "256", "x"] {
            XCTAssertThrowsError(try TunnelNodeOptions(metadata: ["tunnel.weight": bad], path: "m")) { error in
                XCTAssertEqual((error as? ConfigError)?.description, "m.tunnel.weight: takes 1-255, got \"\(bad)\"")
            }
        }
    }

    func testTheAgentRegistryKnowsTheAgentFormKeys() {
        let keys = Registry.standard.withAgentForms().metadataKeys
        XCTAssertTrue(TunnelNodeOptions.metadataKeys.isSubset(of: keys))
        XCTAssertTrue(TLSText.metadataKeys.isSubset(of: keys))
        XCTAssertFalse(keys.contains("registrationTimeout"), "a relay key is not an option of the agent")
    }
}
