import NIOCore
import XCTest

@testable import Shared

/// Each protocol's options type parses its metadata keys and declares them; the standard
/// registry knows exactly the declared keys.
final class MetadataOptionsTests: XCTestCase {
    func testTLSTextReadsGOSTKeysAndAliases() throws {
        XCTAssertNil(TLSText(metadata: Metadata(["udp": "true"])))
        XCTAssertNil(TLSText(metadata: nil))
        let long = try XCTUnwrap(TLSText(metadata: Metadata(["certFile": "c.pem", "keyFile": "k.pem", "caFile": "ca.pem", "serverName": "x.test", "secure": "true"])))
        XCTAssertEqual(long, TLSText { ["cert": "c.pem", "key": "k.pem", "ca": "ca.pem", "serverName": "x.test", "secure": "1"][$0] })
        XCTAssertEqual(long.config, TLSConfig(certFile: "c.pem", keyFile: "k.pem", caFile: "ca.pem", serverName: "x.test", secure: true))
        // The long key wins over its alias.
        XCTAssertEqual(TLSText(metadata: Metadata(["caFile": "a", "ca": "b"]))?.caFile, "a")
        XCTAssertEqual(TLSText(metadata: Metadata(["secure": "no"]))?.secure, false)
        XCTAssertNil(TLSText(metadata: Metadata(["secure": "maybe"]))?.secure)
    }

    func testTLSTextOverridesOnlyWhatItGives() {
        let base = TLSOptions(certFile: "base.pem", keyFile: "base.key", caFile: nil, serverName: "base.test", secure: true, pinSHA256: "ab")
        let applied = TLSText(metadata: Metadata(["caFile": "ca.pem"]))!.applied(to: base)
        XCTAssertEqual(applied, TLSOptions(certFile: "base.pem", keyFile: "base.key", caFile: "ca.pem", serverName: "base.test", secure: true, pinSHA256: "ab"))
    }

    func testSOCKS5AndUDPForwardOptions() {
        XCTAssertTrue(SOCKS5Options(metadata: Metadata()).udp)
        XCTAssertFalse(SOCKS5Options(metadata: Metadata(["udp": "false"])).udp)
        XCTAssertEqual(UDPForwardOptions(metadata: Metadata()), UDPForwardOptions())
        XCTAssertEqual(UDPForwardOptions().idleTimeout, .seconds(60))
        XCTAssertEqual(UDPForwardOptions(metadata: Metadata(["ttl": "5s", "maxSessions": "7"])).idleTimeout, .seconds(5))
        XCTAssertEqual(UDPForwardOptions(metadata: Metadata(["idleTimeout": "2s"])).idleTimeout, .seconds(2))
        XCTAssertEqual(UDPForwardOptions(metadata: Metadata(["maxSessions": "7"])).maxSessions, 7)
    }

    func testStandardRegistryKnowsTheDeclaredKeys() {
        let declared = TLSText.metadataKeys.union(SOCKS5Options.metadataKeys).union(UDPForwardOptions.metadataKeys)
        XCTAssertTrue(declared.isSubset(of: Registry.standard.metadataKeys))
        var r = Registry()
        r.declare(SOCKS5Options.self)
        XCTAssertEqual(r.metadataKeys, ["udp"])
    }
}

final class GoDurationFormatTests: XCTestCase {
    /// Flags print their defaults in Go's notation, and what is printed parses back to the same.
    func testFormatIsTheInverseOfParse() {
        for (amount, text) in [(TimeAmount.seconds(75), "75s"), (.milliseconds(500), "500ms"), (.microseconds(3), "3us"), (.nanoseconds(7), "7ns"), (.zero, "0s")] {
            XCTAssertEqual(GoDuration.format(amount), text)
            XCTAssertEqual(GoDuration.parse(text).map { TimeAmount.nanoseconds(Int64($0 / .nanoseconds(1))) }, amount)
        }
    }
}
