import NIOCore
import NIOEmbedded
import XCTest

@testable import Mux

/// Stream windows and frame sizes through two real sessions: backpressure, overruns, splitting.
final class MuxFlowControlEmbeddedTests: XCTestCase {
    func testReceiverThatDoesNotReadGrantsNoWindow() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        let (stream, recorder) = try pair.openClientStream()
        let total = 1024 * 1024
        var written = 0
        while written < total {
            stream.write(ByteBuffer(repeating: 0x61, count: 16384), promise: nil)
            written += 16384
        }
        stream.flush()
        try pair.interact()
        let server = pair.serverStreams.all[0]
        let serverStream = server.channel as! MuxStreamChannel
        let clientStream = stream as! MuxStreamChannel
        XCTAssertEqual(server.recorder.state.received.readableBytes, 0)
        XCTAssertEqual(serverStream.bufferedInboundBytes, MuxProtocol.initialStreamWindow)
        XCTAssertEqual(clientStream.bufferedOutboundBytes, total - MuxProtocol.initialStreamWindow)
        XCTAssertFalse(stream.isWritable)
        XCTAssertEqual(recorder.state.writabilityChanges, [false])
        // Each read() delivers what is buffered and grants it back; drain completely.
        for _ in 0..<100 where server.recorder.state.received.readableBytes < total {
            server.channel.read()
            try pair.interact()
        }
        XCTAssertEqual(server.recorder.state.received.readableBytes, total)
        XCTAssertEqual(clientStream.bufferedOutboundBytes, 0)
        XCTAssertTrue(stream.isWritable)
        XCTAssertEqual(recorder.state.writabilityChanges, [false, true])
    }

    func testPeerOverrunningTheWindowIsReset() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        pair.serverStreams.autoRead = false
        try pair.server.writeInbound(encode(.open(streamID: 1, metadata: ByteBuffer())))
        let chunk = ByteBuffer(repeating: 1, count: 65536)
        for _ in 0..<4 { try pair.server.writeInbound(encode(.data(streamID: 1, payload: chunk))) }
        XCTAssertTrue(pair.serverStreams.all[0].channel.isActive)
        try pair.server.writeInbound(encode(.data(streamID: 1, payload: ByteBuffer(string: "x"))))
        XCTAssertFalse(pair.serverStreams.all[0].channel.isActive)
        let out = try decodeAll(try self.drain(pair.server), preface: false)
        XCTAssertTrue(out.contains(.reset(streamID: 1, code: .flowControlError)), "\(out)")
        XCTAssertTrue(pair.server.isActive, "a stream error does not end the session")
    }

    func testWindowOverflowIsReset() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, recorder) = try pair.openClientStream()
        try pair.interact()
        try pair.client.writeInbound(encode(.windowUpdate(streamID: 1, increment: UInt32(Int32.max))))
        XCTAssertFalse(stream.isActive)
        XCTAssertEqual((recorder.state.errors.first as? MuxError)?.code, .flowControlError)
    }

    func testLargeWritesAreSplitIntoFramesOfThePeersMaxSize() throws {
        let pair = try EmbeddedMuxPair()
        defer { pair.finish() }
        let (stream, _) = try pair.openClientStream()
        _ = try pair.clientOutbound()
        stream.writeAndFlush(ByteBuffer(repeating: 7, count: 200_000), promise: nil)
        let frames = try decodeAll(try pair.clientOutbound(), preface: false)
        let sizes = frames.compactMap { frame -> Int? in
            if case .data(_, let p) = frame { return p.readableBytes }
            return nil
        }
        XCTAssertEqual(sizes, [65536, 65536, 65536, 200_000 - 3 * 65536])
    }
}
