import XCTest

@testable import TunnelServer

/// Sealing of the values relays keep in etcd.
final class ClusterKeyTests: XCTestCase {
    let key = try! ClusterKey(secret: Array("0123456789abcdef-secret".utf8))

    func testSealedValuesOpenOnlyWithTheSameKeyAndName() throws {
        let secret = Array("-----BEGIN PRIVATE KEY-----".utf8)
        let sealed = try key.seal(secret, for: "/tunnel/identity")
        XCTAssertFalse(String(decoding: sealed, as: UTF8.self).contains("BEGIN"))
        XCTAssertEqual(try key.open(sealed, for: "/tunnel/identity"), secret)
        XCTAssertNotEqual(try key.seal(secret, for: "/tunnel/identity"), sealed, "a fresh nonce every time")

        let other = try ClusterKey(secret: Array("another-secret-of-enough-length".utf8))
        XCTAssertThrowsError(try other.open(sealed, for: "/tunnel/identity")) { error in
            XCTAssertTrue("\(error)".contains("cannot be opened with this --cluster-key-file"), "\(error)")
        }
        XCTAssertThrowsError(try key.open(sealed, for: "/tunnel/tokens"), "bound to its key name")
        var altered = sealed
        altered[altered.count - 1] ^= 1
        XCTAssertThrowsError(try key.open(altered, for: "/tunnel/identity"))
        XCTAssertThrowsError(try key.open(Array("plain value in the clear, long enough to pass".utf8), for: "/x")) { error in
            XCTAssertTrue("\(error)".contains("not a value sealed"), "\(error)")
        }
    }

    func testShortSecretsAreRefused() {
        XCTAssertThrowsError(try ClusterKey(secret: Array("short".utf8))) { error in
            XCTAssertTrue("\(error)".contains("at least 16 bytes"), "\(error)")
        }
    }

    func testKeyFileIsTrimmedText() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ck-\(UUID().uuidString)").path
        try "0123456789abcdef-secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fromFile = try ClusterKey(file: file)
        let sealed = try fromFile.seal([1, 2, 3], for: "k")
        XCTAssertEqual(try key.open(sealed, for: "k"), [1, 2, 3], "the trailing newline is not part of the secret")
    }
}
