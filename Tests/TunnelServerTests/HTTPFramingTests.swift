import NIOCore
import Shared
import XCTest

@testable import TunnelServer

final class HTTPFramingTests: XCTestCase {
    func head(_ text: String, request: Bool = true) throws -> HTTPFraming.Head? {
        try HTTPFraming.parseHead(ByteBuffer(string: text), isRequest: request)
    }

    func testRequestHeads() throws {
        XCTAssertNil(try head("GET / HTTP/1.1\r\nHost: a\r\n"))
        let h = try XCTUnwrap(try head("POST /x HTTP/1.1\r\nHost: App.Example.com\r\nContent-Length: 12\r\n\r\nbody"))
        XCTAssertEqual(h.method, "POST")
        XCTAssertEqual(h.host, "App.Example.com")
        XCTAssertEqual(h.contentLength, 12)
        XCTAssertEqual(h.length, "POST /x HTTP/1.1\r\nHost: App.Example.com\r\nContent-Length: 12\r\n\r\n".utf8.count)
        XCTAssertEqual(HTTPFraming.requestBody(h), .length(12))
        let chunked = try XCTUnwrap(try head("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
        XCTAssertEqual(HTTPFraming.requestBody(chunked), .chunkSize)
        let ws = try XCTUnwrap(try head("GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"))
        XCTAssertTrue(ws.upgrade)
        XCTAssertEqual(HTTPFraming.requestBody(ws), .none, "raw only once the origin agrees")
        XCTAssertTrue(try XCTUnwrap(try head("GET / HTTP/1.0\r\n\r\n")).connectionClose)
        XCTAssertFalse(try XCTUnwrap(try head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).connectionClose)
    }

    func testBadHeadsAreRefusedWithAReason() {
        for bad in ["garbage\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n",
                    "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                    // Request smuggling's raw material (RFC 9112 §2.2, §3.2, §5, §6.1).
                    "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                    "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
                    "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
                    "GET / HTTP/1.1\nHost: a\r\n\r\n",
                    "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
                    "GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n"] {
            XCTAssertThrowsError(try head(bad), bad) { XCTAssertEqual(($0 as? HTTPFraming.Error)?.kind, .malformed, bad) }
        }
        let huge = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: HTTPFraming.maxHead)
        XCTAssertThrowsError(try head(huge)) { XCTAssertEqual(($0 as? HTTPFraming.Error)?.kind, .headTooLarge) }
        for bad in ["HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n", "http/1.1 200 OK\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"] {
            XCTAssertThrowsError(try head(bad, request: false), bad)
        }
    }

    /// What a lenient parser accepts and a stricter one downstream reads differently: a version
    /// that is not exactly HTTP/1.0 or 1.1, control bytes in a value, chunked framing on HTTP/1.0.
    func testAmbiguousHeadsAreRefused() throws {
        for bad in ["GET / HTTP/1.1x\r\nHost: a\r\n\r\n", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / HTTP/1.\r\nHost: a\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\u{1}\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: a\r\nX: \u{7F}\r\n\r\n",
                    "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"] {
            XCTAssertThrowsError(try head(bad), bad) { XCTAssertEqual(($0 as? HTTPFraming.Error)?.kind, .malformed, bad) }
        }
        XCTAssertThrowsError(try head("HTTP/1.1x 200 OK\r\n\r\n", request: false))
        XCTAssertNotNil(try head("GET / HTTP/1.1\r\nHost: a\r\nX: tab\there ok\r\n\r\n"))
        XCTAssertNotNil(try head("HTTP/1.0 200 OK\r\n\r\n", request: false))
    }

    /// Header names, tokens and numbers are read at the byte level, case-insensitively where
    /// HTTP says so.
    func testByteLevelFieldsFollowTheRFC() throws {
        let h = try XCTUnwrap(try head("PUT /a HTTP/1.1\r\nHOST:  a.example  \r\ncontent-LENGTH:\t 42 \r\nCONNECTION: Keep-Alive , CLOSE\r\n\r\n"))
        XCTAssertEqual(h.host, "a.example")
        XCTAssertEqual(h.contentLength, 42)
        XCTAssertTrue(h.connectionClose)
        let te = try XCTUnwrap(try head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", request: false))
        XCTAssertFalse(te.chunked, "chunked counts only as the last coding")
        XCTAssertEqual(HTTPFraming.responseBody(te, method: "GET"), .untilClose)
        let upper = try XCTUnwrap(try head("HTTP/1.1 200\r\nTRANSFER-ENCODING: ,CHUNKED,\r\n\r\n", request: false))
        XCTAssertTrue(upper.chunked)
        XCTAssertEqual(upper.status, 200)
        XCTAssertNoThrow(try head("GET HTTP://A.example:8080/x?y HTTP/1.1\r\nHost: a.EXAMPLE:8080\r\n\r\n"))
        XCTAssertEqual(try XCTUnwrap(try head("GET / HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Forwarded-Proto: b\r\nx-forwarded-for: c\r\n\r\n")).forwardedFor, [1, 3])
    }

    func testResponseBodies() throws {
        func body(_ text: String, method: String = "GET") throws -> HTTPFraming.Body {
            HTTPFraming.responseBody(try XCTUnwrap(try head(text, request: false)), method: method)
        }
        XCTAssertEqual(try body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), .length(5))
        XCTAssertEqual(try body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: "HEAD"), .none)
        XCTAssertEqual(try body("HTTP/1.1 204 No Content\r\n\r\n"), .none)
        XCTAssertEqual(try body("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), .none)
        XCTAssertEqual(try body("HTTP/1.1 101 Switching Protocols\r\n\r\n"), .raw)
        XCTAssertEqual(try body("HTTP/1.1 200 OK\r\n\r\n", method: "CONNECT"), .raw)
        XCTAssertEqual(try body("HTTP/1.0 200 OK\r\n\r\n"), .untilClose)
        XCTAssertEqual(try body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), .chunkSize)
    }

    /// A chunked body split at every possible point frames the same: its end is found exactly,
    /// and a chunk-size line is never passed on half-read.
    func testChunkedBodyAcrossEverySplit() throws {
        let message = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n"
        let next = "GET / HTTP/1.1\r\n\r\n"
        let bytes = Array((message + next).utf8)
        for split in 0...bytes.count {
            var body = HTTPFraming.Body.chunkSize
            var buffer = ByteBuffer(bytes: bytes[0..<split])
            var consumed = 0
            var done = false
            let (c1, d1) = try body.advance(buffer.readableBytesView, from: buffer.readerIndex)
            buffer.moveReaderIndex(forwardBy: c1)
            consumed += c1
            done = d1
            if !done {
                buffer.writeBytes(bytes[split...])
                let (c2, d2) = try body.advance(buffer.readableBytesView, from: buffer.readerIndex)
                consumed += c2
                done = d2
            }
            XCTAssertTrue(done, "split at \(split)")
            XCTAssertEqual(consumed, message.utf8.count, "split at \(split)")
        }
    }

    func testFixedLengthBodyStopsAtItsEnd() throws {
        var body = HTTPFraming.Body.length(10)
        let buffer = ByteBuffer(string: "0123456789GET")
        let (count, done) = try body.advance(buffer.readableBytesView, from: buffer.readerIndex)
        XCTAssertEqual(count, 10)
        XCTAssertTrue(done)
        XCTAssertEqual(body, .none)
    }

    func testBadChunkSizesAreRefused() {
        for bad in ["zz\r\n", "\r\n", "1234567890abcdef\r\n", String(repeating: "1", count: 5000), "5\n", "5 x\r\n", "5\r\nhelloXX", "0\r\nX\n"] {
            var body = HTTPFraming.Body.chunkSize
            let buffer = ByteBuffer(string: bad)
            XCTAssertThrowsError(try body.advance(buffer.readableBytesView, from: buffer.readerIndex), bad)
        }
    }

    func testForwardedHeadExtendsTheClientsChain() throws {
        let h = try XCTUnwrap(try head("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-proto: https\r\nAccept: */*\r\n\r\n"))
        let out = HTTPIngressStateMachine.forwardedHead(h, clientIP: "192.0.2.7", allocator: ByteBufferAllocator())
        XCTAssertEqual(String(buffer: out), "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nForwarded: for=192.0.2.7;host=\"a\";proto=http\r\n\r\n")
    }
}

extension HTTPFramingTests {
    /// Bytes that cannot begin a request are refused at once, not after waiting for a head.
    func testNonHTTPIsRefusedFromItsFirstBytes() {
        for bad in ["\u{01}\u{02}", "GE\u{00}", "G\"T", String(repeating: "A", count: 30)] {
            XCTAssertThrowsError(try head(bad), bad)
        }
        XCTAssertNoThrow(try head("GET"))
        XCTAssertNoThrow(try head("M-SEARCH * HTTP/1.1\r\n"))
    }
}
