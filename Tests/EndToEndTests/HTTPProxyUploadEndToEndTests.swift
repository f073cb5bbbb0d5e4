import Foundation
import XCTest

/// Request bodies through the forward HTTP proxy, larger than a channel's write high watermark.
final class HTTPProxyUploadEndToEndTests: EndToEndTestCase {
    /// A 4 MiB POST reaches the origin whole. (Body parts used to be written to the origin without a
    /// flush until the request's end: past 64 KiB of unflushed bytes the origin connection turned
    /// unwritable, the proxy stopped reading the client, the end never came and the upload hung.)
    func testLargeUploadThroughHTTPProxy() throws {
        let origin = try h.python("http_origin.py", ["origin", "120"])
        let originPort = try origin.wait(for: "PORT (\\d+)")
        let proxy = try h.agent(["-L", "http://127.0.0.1:0"])
        let port = try proxy.port(ofService: "cli-0")
        let bytes = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let file = h.tempFile("upload.bin")
        try Data(bytes).write(to: file)
        let expected = try h.run("/usr/bin/env", ["sha256sum", file.path]).output.prefix(64)
        let r = try h.curl(["-H", "Expect:", "-x", "http://127.0.0.1:\(port)", "--data-binary", "@\(file.path)", "http://127.0.0.1:\(originPort)/sha"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("\"length\": \(4 << 20)"), r.output)
        XCTAssertTrue(r.output.contains("\"sha256\": \"\(expected)\""), r.output)
    }
}
