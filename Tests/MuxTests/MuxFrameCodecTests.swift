import NIOCore
import XCTest

@testable import Mux

final class MuxFrameCodecTests: XCTestCase {
    private func roundTrip(_ frame: MuxFrame, file: StaticString = #filePath, line: UInt = #line) throws {
        var buffer = ByteBuffer()
        MuxFrameEncoder.write(frame, into: &buffer)
        let frames = try decodeAll(buffer, preface: false)
        XCTAssertEqual(frames, [frame], file: file, line: line)
    }

    func testPrefaceRoundTrip() throws {
        var buffer = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &buffer)
        XCTAssertEqual(buffer.readableBytes, MuxProtocol.prefaceSize)
        XCTAssertEqual(Array(buffer.readableBytesView.prefix(5)), Array("TMUX".utf8) + [1])
        XCTAssertEqual(try decodeAll(buffer), [.preface(version: 1, maxFrameSize: 65536)])
    }

    func testEveryFrameTypeRoundTrips() throws {
        try self.roundTrip(.open(streamID: 1, metadata: ByteBuffer(string: "10.0.0.1:80")))
        try self.roundTrip(.open(streamID: 3, metadata: ByteBuffer()))
        try self.roundTrip(.data(streamID: 5, payload: ByteBuffer(string: "hello")))
        try self.roundTrip(.data(streamID: 5, payload: ByteBuffer()))
        try self.roundTrip(.windowUpdate(streamID: 7, increment: 12345))
        try self.roundTrip(.fin(streamID: 9))
        try self.roundTrip(.reset(streamID: 11, code: .cancel))
        try self.roundTrip(.reset(streamID: 11, code: MuxErrorCode(rawValue: 0xdead)))
        try self.roundTrip(.ping(ack: false, payload: 42))
        try self.roundTrip(.ping(ack: true, payload: .max))
        try self.roundTrip(.goAway(lastStreamID: 4, code: .noError, reason: ByteBuffer(string: "bye")))
        try self.roundTrip(.datagram(flowID: 0xFFFF_FFFF, payload: ByteBuffer(string: "udp")))
        try self.roundTrip(.unknown(type: 0x42, id: 3, length: 5))
    }

    func testHeaderLayout() {
        var buffer = ByteBuffer()
        MuxFrameEncoder.write(.data(streamID: 0x0102_0304, payload: ByteBuffer(bytes: [0xAA, 0xBB])), into: &buffer)
        XCTAssertEqual(Array(buffer.readableBytesView), [0, 0, 2, 0, 0, 1, 2, 3, 4, 0xAA, 0xBB])
    }

    func testPartialInputWaits() throws {
        var full = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &full)
        MuxFrameEncoder.write(.data(streamID: 1, payload: ByteBuffer(string: "abcdef")), into: &full)
        var decoder = MuxFrameDecoder(maxFrameSize: 65536)
        var input = ByteBuffer()
        var frames: [MuxFrame] = []
        for byte in full.readableBytesView {
            input.writeInteger(byte)
            while let frame = try decoder.decode(buffer: &input) { frames.append(frame) }
        }
        XCTAssertEqual(frames, [.preface(version: 1, maxFrameSize: 65536), .data(streamID: 1, payload: ByteBuffer(string: "abcdef"))])
    }

    private func assertDecodeError(_ bytes: ByteBuffer, code: MuxErrorCode, preface: Bool = false, maxFrameSize: Int = 65536, file: StaticString = #filePath, line: UInt = #line) {
        var decoder = MuxFrameDecoder(maxFrameSize: maxFrameSize)
        if !preface {
            var p = ByteBuffer()
            MuxFrameEncoder.writePreface(maxFrameSize: 65536, into: &p)
            _ = try? decoder.decode(buffer: &p)
        }
        var input = bytes
        XCTAssertThrowsError(try { while try decoder.decode(buffer: &input) != nil {} }(), file: file, line: line) { error in
            XCTAssertEqual((error as? MuxError)?.code, code, "\(error)", file: file, line: line)
        }
    }

    func testBadPrefaceIsRejectedEarly() {
        self.assertDecodeError(ByteBuffer(string: "GET "), code: .protocolError, preface: true)
    }

    func testWrongVersionAndFrameSizeInPreface() {
        var v2 = ByteBuffer()
        v2.writeInteger(MuxProtocol.magic)
        v2.writeInteger(UInt8(2))
        v2.writeRepeatingByte(0, count: 3)
        v2.writeInteger(UInt32(65536))
        self.assertDecodeError(v2, code: .protocolError, preface: true)
        var small = ByteBuffer()
        MuxFrameEncoder.writePreface(maxFrameSize: 100, into: &small)
        self.assertDecodeError(small, code: .protocolError, preface: true)
    }

    func testOversizedFrameIsRejectedBeforeItsPayload() {
        var header = ByteBuffer()
        MuxFrameEncoder.writeHeader(length: 70000, type: .data, id: 1, into: &header)
        self.assertDecodeError(header, code: .frameSizeError)
    }

    func testFixedLengthFramesWithWrongLength() {
        for (type, length) in [(MuxFrameType.windowUpdate, 3), (.reset, 5), (.fin, 1), (.ping, 7), (.goAway, 7)] {
            var header = ByteBuffer()
            MuxFrameEncoder.writeHeader(length: length, type: type, id: type == .ping || type == .goAway ? 0 : 1, into: &header)
            header.writeRepeatingByte(0, count: length)
            self.assertDecodeError(header, code: .frameSizeError)
        }
    }

    func testStreamZeroAndSessionFrameRules() {
        self.assertDecodeError(encode(.data(streamID: 0, payload: ByteBuffer(string: "x"))), code: .protocolError)
        self.assertDecodeError(encode(.open(streamID: 0, metadata: ByteBuffer())), code: .protocolError)
        self.assertDecodeError(encode(.fin(streamID: 0)), code: .protocolError)
        var ping = ByteBuffer()
        MuxFrameEncoder.writeHeader(length: 8, type: .ping, id: 3, into: &ping)
        ping.writeInteger(UInt64(1))
        self.assertDecodeError(ping, code: .protocolError)
        var reserved = ByteBuffer()
        MuxFrameEncoder.writeHeader(length: 0, type: .fin, id: 0x8000_0001, into: &reserved)
        self.assertDecodeError(reserved, code: .protocolError)
    }

    func testZeroWindowIncrementIsAnError() {
        self.assertDecodeError(encode(.windowUpdate(streamID: 1, increment: 0)), code: .flowControlError)
        self.assertDecodeError(encode(.windowUpdate(streamID: 1, increment: 0x8000_0000)), code: .flowControlError)
    }
}
