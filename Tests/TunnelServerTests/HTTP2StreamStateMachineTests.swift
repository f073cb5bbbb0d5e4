import NIOCore
import NIOHPACK
import XCTest

@testable import TunnelServer

/// One visitor h2 stream's decisions, with parts alone: routing by `:authority`, what is held
/// while the upstream opens, pacing both ways, the relay's own answers, and how a stream ends.
final class HTTP2StreamStateMachineTests: XCTestCase {
    typealias Machine = HTTP2StreamStateMachine

    func machine(upstream: RuleOptions.UpstreamProtocol = .http1) -> Machine {
        Machine(clientIP: "192.0.2.7") { host, _ in
            host == "app.test" ? .init(tunnel: "t1", upstream: upstream, responseHeaders: [.init(name: "strict-transport-security", value: "max-age=9")]) : nil
        }
    }

    func head(_ host: String, method: String = "GET") -> HPACKHeaders {
        [":method": method, ":scheme": "https", ":authority": host, ":path": "/"]
    }

    func testARequestIsRoutedHeldWhileOpeningAndThenStreamed() {
        var m = machine(upstream: .h2c)
        XCTAssertEqual(m.readRequested(), [.readClient])
        let opened = m.clientPart(.head(head("app.test", method: "POST"), end: false))
        XCTAssertEqual(opened, [.openUpstream(tunnel: "t1", host: "app.test", upstream: .h2c, policies: [])])
        // Held, and not read further, until the upstream is open.
        XCTAssertEqual(m.clientPart(.body(ByteBuffer(string: "ab"), end: false)), [])
        XCTAssertEqual(m.readRequested(), [])
        let actions = m.upstreamOpened()
        guard case .writeUpstream(.head(let forwarded, end: false)) = actions[1] else { return XCTFail("\(actions)") }
        XCTAssertEqual(forwarded.first(name: "x-forwarded-for"), "192.0.2.7")
        XCTAssertEqual(forwarded.first(name: "x-forwarded-proto"), "https")
        XCTAssertEqual(actions[0], .setUpstreamPartnerWritable(true))
        XCTAssertEqual(Array(actions[2...]), [.writeUpstream(.body(ByteBuffer(string: "ab"), end: false)), .flushUpstream, .startReadingUpstream, .readClient])
        // The upstream fills up: the visitor's stream is not read (no WINDOW_UPDATE) until it drains.
        XCTAssertEqual(m.upstreamWritabilityChanged(false), [])
        XCTAssertEqual(m.readRequested(), [])
        XCTAssertEqual(m.upstreamWritabilityChanged(true), [.readClient])
        XCTAssertEqual(m.clientPart(.trailers(["x-sum": "1"])), [.writeUpstream(.trailers(["x-sum": "1"]))])
        XCTAssertEqual(m.clientReadComplete(), [.flushUpstream])
        // The visitor's stream fills up: the upstream is paced.
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        XCTAssertEqual(m.clientWritabilityChanged(false, now: t0), [.setUpstreamPartnerWritable(false), .scheduleTimer(t0 + .seconds(75))])
        // The answer: interim head, final head with HSTS, body, trailers; then done.
        XCTAssertEqual(m.upstreamPart(.head([":status": "100"], end: false)), [.writeClient(.head([":status": "100"], end: false), thenReset: false)])
        XCTAssertEqual(
            m.upstreamPart(.head([":status": "200"], end: false)),
            [.writeClient(.head([":status": "200", "strict-transport-security": "max-age=9"], end: false), thenReset: false)])
        XCTAssertEqual(m.upstreamPart(.body(ByteBuffer(string: "ok"), end: false)), [.writeClient(.body(ByteBuffer(string: "ok"), end: false), thenReset: false)])
        XCTAssertEqual(m.upstreamPart(.trailers(["grpc-status": "0"])), [.writeClient(.trailers(["grpc-status": "0"]), thenReset: false), .flushClient, .releaseUpstream])
        XCTAssertEqual(m.state, .finished)
        XCTAssertEqual(m.upstreamClosed(), [])
    }

    func testAnAnswerThatEndsBeforeTheRequestResetsTheStreamAfterIt() {
        var m = machine()
        _ = m.clientPart(.head(head("app.test", method: "POST"), end: false))
        _ = m.upstreamOpened()
        XCTAssertEqual(
            m.upstreamPart(.head([":status": "413"], end: true)),
            [.writeClient(.head([":status": "413", "strict-transport-security": "max-age=9"], end: true), thenReset: true), .flushClient, .closeUpstream])
    }

    func testTheRelayAnswersWhatItCannotRoute() {
        var unknown = machine()
        let actions = unknown.clientPart(.head(head("nobody.test"), end: true))
        guard case .writeClient(.head(let page, end: false), thenReset: false) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(page.first(name: ":status"), "404")
        XCTAssertEqual(actions.count, 3)
        XCTAssertEqual(actions[2], .flushClient)
        guard case .writeClient(.body(_, end: true), thenReset: false) = actions[1] else { return XCTFail("\(actions)") }

        var connect = machine()
        let refused = connect.clientPart(.head([":method": "CONNECT", ":authority": "app.test"], end: false))
        guard case .writeClient(.head(let h, end: false), _) = refused.first else { return XCTFail("\(refused)") }
        XCTAssertEqual(h.first(name: ":status"), "501")
        // The visitor is still sending: the stream is reset once the page is out.
        XCTAssertEqual(refused[1].resets, true)

        var offline = machine()
        _ = offline.clientPart(.head(head("app.test"), end: true))
        let unavailable = offline.upstreamUnavailable(host: "app.test")
        guard case .writeClient(.head(let h503, end: false), _) = unavailable.first else { return XCTFail("\(unavailable)") }
        XCTAssertEqual(h503.first(name: ":status"), "503")
        XCTAssertEqual(h503.first(name: "retry-after"), "5")
        XCTAssertEqual(h503.first(name: "strict-transport-security"), "max-age=9")
    }

    func testAnUpstreamThatGoesAwayGives502BeforeTheAnswerAndAResetInsideIt() {
        var before = machine()
        _ = before.clientPart(.head(head("app.test"), end: true))
        _ = before.upstreamOpened()
        let page = before.upstreamClosed()
        XCTAssertEqual(page.first, .closeUpstream)
        guard case .writeClient(.head(let h, end: false), _) = page.dropFirst().first else { return XCTFail("\(page)") }
        XCTAssertEqual(h.first(name: ":status"), "502")

        var inside = machine()
        _ = inside.clientPart(.head(head("app.test"), end: true))
        _ = inside.upstreamOpened()
        _ = inside.upstreamPart(.head([":status": "200"], end: false))
        XCTAssertEqual(inside.upstreamClosed(), [.flushClient, .resetClient])
    }

    func testAVisitorThatStopsReadingIsResetAfterTheIdleTimeout() {
        var m = Machine(clientIP: nil, idleTimeout: .seconds(10)) { _, _ in .init(tunnel: "t1", upstream: .http1) }
        _ = m.clientPart(.head(head("app.test"), end: true))
        _ = m.upstreamOpened()
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        XCTAssertEqual(m.clientWritabilityChanged(false, now: t0), [.setUpstreamPartnerWritable(false), .scheduleTimer(t0 + .seconds(10))])
        // Reading again in between starts the count over.
        XCTAssertEqual(m.clientWritabilityChanged(true, now: t0 + .seconds(5)), [.setUpstreamPartnerWritable(true)])
        XCTAssertEqual(m.timerFired(now: t0 + .seconds(10)), [])
        let t1 = t0 + .seconds(6)
        XCTAssertEqual(m.clientWritabilityChanged(false, now: t1), [.setUpstreamPartnerWritable(false), .scheduleTimer(t1 + .seconds(10))])
        XCTAssertEqual(m.timerFired(now: t1 + .seconds(3)), [.scheduleTimer(t1 + .seconds(10))])
        XCTAssertEqual(m.timerFired(now: t1 + .seconds(10)), [.closeUpstream, .resetClient])
        XCTAssertEqual(m.state, .finished)
    }

    func testAVisitorThatGoesAwayClosesTheUpstreamEvenWhileItOpens() {
        var open = machine()
        _ = open.clientPart(.head(head("app.test"), end: true))
        _ = open.upstreamOpened()
        XCTAssertEqual(open.clientClosed(), [.closeUpstream])

        var opening = machine()
        _ = opening.clientPart(.head(head("app.test"), end: true))
        XCTAssertEqual(opening.clientClosed(), [])
        XCTAssertEqual(opening.upstreamOpened(), [.closeUpstream])
    }
}

extension HTTP2StreamStateMachine.Action {
    var resets: Bool? {
        if case .writeClient(_, let thenReset) = self { return thenReset }
        return nil
    }
}
