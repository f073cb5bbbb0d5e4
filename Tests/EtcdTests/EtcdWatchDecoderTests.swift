import NIOCore
import XCTest

@testable import Etcd

/// The watch stream's line splitting, on bytes alone.
final class EtcdWatchDecoderTests: XCTestCase {
    let created = #"{"result":{"header":{"revision":"2"},"created":true}}"#
    let put = #"{"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"YQ==","create_revision":"3","mod_revision":"3","version":"1","value":"dg=="}}]}}"#
    let delete = #"{"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"4"}}]}}"#

    func testLinesCutAnywhereDecodeWhole() throws {
        let stream = Array((created + "\n" + put + "\n" + delete + "\n").utf8)
        for cut in [1, 7, 50, stream.count - 1] {
            var decoder = EtcdWatchDecoder()
            var out = try decoder.feed(ByteBuffer(bytes: stream[..<cut]))
            out += try decoder.feed(ByteBuffer(bytes: stream[cut...]))
            XCTAssertEqual(out.count, 3, "cut at \(cut)")
            XCTAssertEqual(out[1].result?.events?.first?.kv?.value, Data("v".utf8))
            XCTAssertEqual(out[2].result?.events?.first?.type, "DELETE")
            XCTAssertEqual(out[2].result?.header?.revision?.value, 4)
        }
    }

    func testAnOverlongLineIsRefused() {
        var decoder = EtcdWatchDecoder(maxLine: 64)
        XCTAssertThrowsError(try decoder.feed(ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: 100)))) { error in
            XCTAssertEqual((error as? EtcdError)?.kind, .malformed)
        }
    }

    func testGarbageIsAnErrorNotACrash() {
        var decoder = EtcdWatchDecoder()
        XCTAssertThrowsError(try decoder.feed(ByteBuffer(string: "{not json\n")))
    }

    func testPrefixRangeEnd() {
        XCTAssertEqual(EtcdRange.end(ofPrefix: "/tunnel/"), Data("/tunnel0".utf8))
        XCTAssertEqual(EtcdRange.end(ofPrefix: "a\u{7F}"), Data([0x61, 0x80]))
        XCTAssertEqual(EtcdRange.end(ofPrefix: ""), Data([0]))
    }

    func testIntegersAsStringsOrNumbers() throws {
        let a = try JSONDecoder().decode(EtcdInt.self, from: Data(#""9007199254740993""#.utf8))
        XCTAssertEqual(a.value, 9_007_199_254_740_993)
        let b = try JSONDecoder().decode(EtcdInt.self, from: Data("12".utf8))
        XCTAssertEqual(b.value, 12)
        XCTAssertThrowsError(try JSONDecoder().decode(EtcdInt.self, from: Data(#""x1""#.utf8)))
    }
}
