import NIOCore
import NIOHTTP1
import XCTest

@testable import Shared

/// Every state of `HTTPProxyServerStateMachine` against every event: the actions it returns and
/// the state it leaves. Scenarios spanning several exchanges are in
/// `HTTPProxyServerStateMachineScenarioTests`.
final class HTTPProxyServerStateMachineTests: XCTestCase {
    typealias M = HTTPProxyServerStateMachine
    typealias A = M.Action

    // MARK: the table

    func testIdle() {
        check(M(), { $0.requestHead(get(), authorized: true) }, [.dial(origin)], .connecting(M.Request(target: origin, head: forwardedGet, keepAlive: true)))
        check(M(), { $0.requestHead(get(), authorized: false) }, [.respond(.authenticationRequired)], .closing(draining: true))
        check(M(), { $0.requestHead(connect(), authorized: true) }, [.dialTunnel(tunnelTarget)], .connectingTunnel(tunnelTarget))
        check(M(), { $0.requestHead(connect("no-port"), authorized: true) }, [.respond(.connectTargetInvalid)], .closing(draining: true))
        check(M(), { $0.requestHead(get("/relative"), authorized: true) }, [.respond(.notAbsoluteForm)], .closing(draining: true))
        check(M(), { $0.requestBody(body) }, [.close], .closing(draining: false))
        check(M(), { $0.requestEnd(nil) }, [.close], .closing(draining: false))
        check(M(), { $0.requestMalformed(.invalidVersion) }, [.respond(.malformed(.invalidVersion))], .closing(draining: false))
        check(M(), { $0.upstreamConnected(writable: true) }, [.discardConnection], .idle)
        check(M(), { $0.tunnelConnected() }, [.discardConnection], .idle)
        check(M(), { $0.upstreamFailed(refused) }, [], .idle)
        check(M(), { $0.upstreamClosed() }, [], .idle)
        check(M(), { $0.responseHead(okHead) }, [], .idle)
        check(M(), { $0.responseBody(body) }, [], .idle)
        check(M(), { $0.responseEnd(nil) }, [], .idle)
        check(M(), { $0.clientInputClosed() }, [.closeAfterResponses], .closing(draining: false))
        check(M(), { $0.clientClosed() }, [], .closed)
        check(M(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = M()
        m.upstreamWritabilityChanged(writable: false)
        XCTAssertNil(m.upstream, "no origin connection to mirror")
        XCTAssertTrue(m.readRequested())
        XCTAssertFalse(m.readHeld)
    }

    /// Idle with the origin connection of an earlier exchange kept.
    func testIdleWithKeptUpstream() {
        check(kept(), { $0.requestHead(get("http://origin.test/b"), authorized: true) }, [.forward(.head(forwarded("/b")))], .forwardingRequest(M.Exchange(keepAlive: true)))
        check(kept(), { $0.requestHead(get("http://other.test/"), authorized: true) }, [.closeUpstream, .dial(HostPort(host: "other.test", port: 80))], .connecting(M.Request(target: HostPort(host: "other.test", port: 80), head: forwarded("/", host: "other.test"), keepAlive: true)))
        check(kept(), { $0.requestHead(connect(), authorized: true) }, [.closeUpstream, .dialTunnel(tunnelTarget)], .connectingTunnel(tunnelTarget))
        check(kept(), { $0.requestHead(get(), authorized: false) }, [.respond(.authenticationRequired)], .closing(draining: true))
        let closed = check(kept(), { $0.upstreamClosed() }, [], .idle)
        XCTAssertNil(closed.upstream)
        check(kept(), { $0.responseHead(okHead) }, [.closeUpstream], .idle)
        check(kept(), { $0.responseBody(body) }, [.closeUpstream], .idle)
        check(kept(), { $0.responseEnd(nil) }, [.closeUpstream], .idle)
        check(kept(), { $0.clientInputClosed() }, [.closeUpstream, .closeAfterResponses], .closing(draining: false))
        check(kept(), { $0.clientClosed() }, [.closeUpstream], .closed)
        var m = kept()
        m.upstreamWritabilityChanged(writable: false)
        XCTAssertFalse(m.readRequested(), "nothing is read while the origin cannot take it")
        m.upstreamWritabilityChanged(writable: true)
        XCTAssertTrue(m.releaseHeldRead())
        XCTAssertFalse(m.releaseHeldRead(), "a released read is not released twice")
    }

    func testConnecting() {
        check(connecting(), { $0.requestHead(get(), authorized: true) }, [], connectingState, queued: 1)
        check(connecting(), { $0.requestBody(body) }, [], connectingState, queued: 1)
        check(connecting(), { $0.requestEnd(nil) }, [], connectingState, queued: 1)
        check(connecting(), { $0.requestMalformed(.invalidURL) }, [], connectingState, queued: 1)
        let up = check(connecting(), { $0.upstreamConnected(writable: false) }, [.adoptConnection, .forward(.head(forwardedGet))], .forwardingRequest(M.Exchange(keepAlive: true)))
        XCTAssertEqual(up.upstream, M.Upstream(target: origin, reusable: true, writable: false))
        check(connecting(), { $0.tunnelConnected() }, [.discardConnection], connectingState)
        check(connecting(), { $0.upstreamFailed(refused) }, [.respond(.unreachable(target: origin, reason: "refused", timedOut: false))], .closing(draining: true))
        check(connecting(), { $0.upstreamFailed(EngineError(.timeout, "too slow")) }, [.respond(.unreachable(target: origin, reason: "too slow", timedOut: true))], .closing(draining: true))
        check(connecting(then: { _ = $0.requestEnd(nil) }), { $0.upstreamFailed(refused) }, [.respond(.unreachable(target: origin, reason: "refused", timedOut: false))], .closing(draining: false), queued: 0)
        check(connecting(), { $0.upstreamClosed() }, [], connectingState)
        check(connecting(), { $0.responseHead(okHead) }, [], connectingState)
        check(connecting(), { $0.responseBody(body) }, [], connectingState)
        check(connecting(), { $0.responseEnd(nil) }, [], connectingState)
        check(connecting(), { $0.clientInputClosed() }, [], connectingState)
        check(connecting(), { $0.clientClosed() }, [], .closed)
        check(connecting(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = connecting()
        XCTAssertFalse(m.readRequested(), "no read while the origin is being dialled")
        XCTAssertTrue(m.readHeld)
        XCTAssertFalse(m.releaseHeldRead())
        _ = m.upstreamConnected(writable: true)
        XCTAssertTrue(m.releaseHeldRead(), "the held read goes once the request can be forwarded")
    }

    func testConnectingTunnel() {
        let state = M.State.connectingTunnel(tunnelTarget)
        check(tunnel(), { $0.requestHead(get(), authorized: true) }, [], state, queued: 1)
        check(tunnel(), { $0.requestBody(body) }, [], state, queued: 1)
        check(tunnel(), { $0.requestEnd(nil) }, [], state, queued: 1)
        check(tunnel(), { $0.requestMalformed(.invalidURL) }, [], state, queued: 1)
        check(tunnel(), { $0.upstreamConnected(writable: true) }, [.discardConnection], state)
        check(tunnel(then: { _ = $0.requestEnd(nil) }), { $0.tunnelConnected() }, [.establishTunnel(replayInputClosed: false)], .tunnelled, queued: 0)
        check(tunnel(then: { _ = $0.clientInputClosed() }), { $0.tunnelConnected() }, [.establishTunnel(replayInputClosed: true)], .tunnelled)
        check(tunnel(then: { _ = $0.requestEnd(nil) }), { $0.upstreamFailed(refused) }, [.respond(.unreachable(target: tunnelTarget, reason: "refused", timedOut: false))], .closing(draining: false), queued: 0)
        check(tunnel(), { $0.upstreamClosed() }, [], state)
        check(tunnel(), { $0.responseHead(okHead) }, [], state)
        check(tunnel(), { $0.responseBody(body) }, [], state)
        check(tunnel(), { $0.responseEnd(nil) }, [], state)
        check(tunnel(), { $0.clientInputClosed() }, [], state)
        check(tunnel(), { $0.clientClosed() }, [], .closed)
        check(tunnel(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = tunnel()
        XCTAssertFalse(m.readRequested())
    }

    func testForwardingRequest() {
        let state = M.State.forwardingRequest(M.Exchange(keepAlive: true))
        let started = M.State.forwardingRequest(M.Exchange(keepAlive: true, responseStarted: true))
        check(forwarding(), { $0.requestHead(get(), authorized: true) }, [.close], .closing(draining: false))
        check(forwarding(), { $0.requestBody(body) }, [.forward(.body(.byteBuffer(body)))], state)
        check(forwarding(), { $0.requestEnd(nil) }, [.forward(.end(nil))], .awaitingResponse(M.Exchange(keepAlive: true)))
        check(forwarding(), { $0.requestMalformed(.invalidChunkSize) }, [.respond(.malformed(.invalidChunkSize))], .closing(draining: false))
        check(forwarding(then: { _ = $0.responseHead(okHead) }), { $0.requestMalformed(.invalidChunkSize) }, [.close], .closing(draining: false))
        check(forwarding(), { $0.upstreamConnected(writable: true) }, [.discardConnection], state)
        check(forwarding(), { $0.tunnelConnected() }, [.discardConnection], state)
        check(forwarding(), { $0.upstreamFailed(refused) }, [], state)
        check(forwarding(), { $0.upstreamClosed() }, [.close], .closing(draining: false))
        check(forwarding(), { $0.responseHead(okHead) }, [.write(.head(okHead))], started)
        check(forwarding(), { $0.responseBody(body) }, [.write(.body(.byteBuffer(body)))], state)
        // The origin answered before the request ended: the rest of the request is still read.
        check(forwarding(then: { _ = $0.responseHead(okHead) }), { $0.responseEnd(nil) }, [.write(.end(nil))], .finishingRequest)
        check(forwarding(get(close: true), then: { _ = $0.responseHead(okHead) }), { $0.responseEnd(nil) }, [.write(.end(nil)), .closeUpstream, .closeAfterResponses], .closing(draining: true))
        check(forwarding(), { $0.clientInputClosed() }, [.closeUpstream, .closeAfterResponses], .closing(draining: false))
        check(forwarding(), { $0.clientClosed() }, [.closeUpstream], .closed)
        check(forwarding(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = forwarding()
        XCTAssertTrue(m.readRequested(), "the request body streams while the origin takes it")
        m.upstreamWritabilityChanged(writable: false)
        XCTAssertFalse(m.readRequested())
        XCTAssertFalse(m.releaseHeldRead())
        m.upstreamWritabilityChanged(writable: true)
        XCTAssertTrue(m.releaseHeldRead())
    }

    func testAwaitingResponse() {
        let state = M.State.awaitingResponse(M.Exchange(keepAlive: true))
        check(awaiting(), { $0.requestHead(get(), authorized: true) }, [], state, queued: 1)
        check(awaiting(), { $0.requestBody(body) }, [], state, queued: 1)
        check(awaiting(), { $0.requestEnd(nil) }, [], state, queued: 1)
        check(awaiting(), { $0.requestMalformed(.invalidURL) }, [], state, queued: 1)
        check(awaiting(), { $0.upstreamConnected(writable: true) }, [.discardConnection], state)
        check(awaiting(), { $0.tunnelConnected() }, [.discardConnection], state)
        check(awaiting(), { $0.upstreamFailed(refused) }, [], state)
        check(awaiting(), { $0.upstreamClosed() }, [.close], .closing(draining: false))
        check(awaiting(), { $0.responseHead(okHead) }, [.write(.head(okHead))], .awaitingResponse(M.Exchange(keepAlive: true, responseStarted: true)))
        check(awaiting(), { $0.responseBody(body) }, [.write(.body(.byteBuffer(body)))], state)
        let reused = check(awaiting(then: { _ = $0.responseHead(okHead) }), { $0.responseEnd(nil) }, [.write(.end(nil))], .idle)
        XCTAssertEqual(reused.upstream?.reusable, true)
        check(awaiting(then: { _ = $0.responseHead(http10Head) }), { $0.responseEnd(nil) }, [.write(.end(nil)), .closeUpstream], .idle)
        check(awaiting(get(close: true), then: { _ = $0.responseHead(okHead) }), { $0.responseEnd(nil) }, [.write(.end(nil)), .closeUpstream, .closeAfterResponses], .closing(draining: false))
        check(awaiting(), { $0.clientInputClosed() }, [], state)
        check(awaiting(), { $0.clientClosed() }, [.closeUpstream], .closed)
        check(awaiting(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = awaiting()
        XCTAssertFalse(m.readRequested(), "pipelined requests wait unread")
        _ = m.responseHead(okHead)
        XCTAssertFalse(m.releaseHeldRead())
        _ = m.responseEnd(nil)
        XCTAssertTrue(m.releaseHeldRead())
    }

    func testFinishingRequest() {
        check(finishing(), { $0.requestHead(get(), authorized: true) }, [.close], .closing(draining: false))
        check(finishing(), { $0.requestBody(body) }, [.forward(.body(.byteBuffer(body)))], .finishingRequest)
        check(finishing(), { $0.requestEnd(nil) }, [.forward(.end(nil))], .idle)
        check(finishing(), { $0.requestMalformed(.invalidChunkSize) }, [.respond(.malformed(.invalidChunkSize))], .closing(draining: false))
        check(finishing(), { $0.upstreamConnected(writable: true) }, [.discardConnection], .finishingRequest)
        check(finishing(), { $0.tunnelConnected() }, [.discardConnection], .finishingRequest)
        check(finishing(), { $0.upstreamFailed(refused) }, [], .finishingRequest)
        check(finishing(), { $0.responseHead(okHead) }, [.closeUpstream], .finishingRequest)
        check(finishing(), { $0.responseBody(body) }, [.closeUpstream], .finishingRequest)
        check(finishing(), { $0.responseEnd(nil) }, [.closeUpstream], .finishingRequest)
        check(finishing(), { $0.clientInputClosed() }, [.closeUpstream, .closeAfterResponses], .closing(draining: false))
        check(finishing(), { $0.clientClosed() }, [.closeUpstream], .closed)
        check(finishing(), { $0.clientFailed() }, [.close], .closing(draining: false))
        // Without the origin connection (it closed, or said it would), the rest is read and dropped.
        let orphan = check(finishing(), { $0.upstreamClosed() }, [], .finishingRequest)
        XCTAssertNil(orphan.upstream)
        check(orphan, { $0.requestBody(body) }, [], .finishingRequest)
        check(orphan, { $0.requestEnd(nil) }, [], .idle)
        var m = finishing()
        XCTAssertTrue(m.readRequested())
    }

    func testClosingWhileDrainingARejectedRequest() {
        let state = M.State.closing(draining: true)
        check(rejected(), { $0.requestHead(get(), authorized: true) }, [], state, queued: 0)
        check(rejected(), { $0.requestBody(body) }, [], state, queued: 0)
        check(rejected(), { $0.requestEnd(nil) }, [], .closing(draining: false))
        check(rejected(), { $0.requestMalformed(.invalidURL) }, [], .closing(draining: false))
        check(rejected(), { $0.upstreamConnected(writable: true) }, [.discardConnection], state)
        check(rejected(), { $0.tunnelConnected() }, [.discardConnection], state)
        check(rejected(), { $0.upstreamFailed(refused) }, [], state)
        check(rejected(), { $0.upstreamClosed() }, [], state)
        check(rejected(), { $0.responseHead(okHead) }, [], state)
        check(rejected(), { $0.responseBody(body) }, [], state)
        check(rejected(), { $0.responseEnd(nil) }, [], state)
        check(rejected(), { $0.clientInputClosed() }, [], .closing(draining: false))
        check(rejected(), { $0.clientClosed() }, [], .closed)
        check(rejected(), { $0.clientFailed() }, [.close], .closing(draining: false))
        var m = rejected()
        XCTAssertTrue(m.readRequested(), "the rest of the rejected request is read, so the close does not reset the answer")
        _ = m.requestEnd(nil)
        XCTAssertFalse(m.readRequested(), "nothing after it")
    }

    func testClosing() {
        let state = M.State.closing(draining: false)
        check(closing(), { $0.requestHead(get(), authorized: true) }, [], state, queued: 0)
        check(closing(), { $0.requestBody(body) }, [], state, queued: 0)
        check(closing(), { $0.requestEnd(nil) }, [], state, queued: 0)
        check(closing(), { $0.requestMalformed(.invalidURL) }, [], state)
        check(closing(), { $0.upstreamConnected(writable: true) }, [.discardConnection], state)
        check(closing(), { $0.tunnelConnected() }, [.discardConnection], state)
        check(closing(), { $0.upstreamFailed(refused) }, [], state)
        check(closing(), { $0.upstreamClosed() }, [], state)
        check(closing(), { $0.responseHead(okHead) }, [], state)
        check(closing(), { $0.responseBody(body) }, [], state)
        check(closing(), { $0.responseEnd(nil) }, [], state)
        check(closing(), { $0.clientInputClosed() }, [], state)
        check(closing(), { $0.clientClosed() }, [], .closed)
        check(closing(), { $0.clientFailed() }, [.close], state)
        // An origin connection kept from an earlier exchange goes with the client's.
        check(kept(then: { _ = $0.requestHead(get(), authorized: false) }), { $0.clientClosed() }, [.closeUpstream], .closed)
        var m = closing()
        XCTAssertFalse(m.readRequested())
        XCTAssertFalse(m.releaseHeldRead())
    }

    func testTunnelled() {
        check(tunnelled(), { $0.requestHead(get(), authorized: true) }, [], .tunnelled, queued: 0)
        check(tunnelled(), { $0.requestBody(body) }, [], .tunnelled, queued: 0)
        check(tunnelled(), { $0.requestEnd(nil) }, [], .tunnelled)
        check(tunnelled(), { $0.requestMalformed(.invalidURL) }, [], .tunnelled)
        check(tunnelled(), { $0.upstreamConnected(writable: true) }, [.discardConnection], .tunnelled)
        check(tunnelled(), { $0.tunnelConnected() }, [.discardConnection], .tunnelled)
        check(tunnelled(), { $0.upstreamFailed(refused) }, [], .tunnelled)
        check(tunnelled(), { $0.upstreamClosed() }, [], .tunnelled)
        check(tunnelled(), { $0.responseHead(okHead) }, [], .tunnelled)
        check(tunnelled(), { $0.responseBody(body) }, [], .tunnelled)
        check(tunnelled(), { $0.responseEnd(nil) }, [], .tunnelled)
        check(tunnelled(), { $0.clientInputClosed() }, [], .tunnelled)
        check(tunnelled(), { $0.clientClosed() }, [], .closed)
        check(tunnelled(), { $0.clientFailed() }, [], .tunnelled)
        var m = tunnelled()
        XCTAssertFalse(m.readRequested())
        XCTAssertFalse(m.readHeld, "the glue reads for a tunnel, not this machine")
    }

    func testClosed() {
        check(dead(), { $0.requestHead(get(), authorized: true) }, [], .closed, queued: 0)
        check(dead(), { $0.requestBody(body) }, [], .closed, queued: 0)
        check(dead(), { $0.requestEnd(nil) }, [], .closed)
        check(dead(), { $0.requestMalformed(.invalidURL) }, [], .closed)
        check(dead(), { $0.upstreamConnected(writable: true) }, [.discardConnection], .closed)
        check(dead(), { $0.tunnelConnected() }, [.discardConnection], .closed)
        check(dead(), { $0.upstreamFailed(refused) }, [], .closed)
        check(dead(), { $0.upstreamClosed() }, [], .closed)
        check(dead(), { $0.responseHead(okHead) }, [], .closed)
        check(dead(), { $0.responseBody(body) }, [], .closed)
        check(dead(), { $0.responseEnd(nil) }, [], .closed)
        check(dead(), { $0.clientInputClosed() }, [], .closed)
        check(dead(), { $0.clientClosed() }, [], .closed)
        check(dead(), { $0.clientFailed() }, [], .closed)
        var m = dead()
        XCTAssertFalse(m.readRequested())
        XCTAssertFalse(m.readHeld)
    }

    /// Writability is mirrored in every state and decides nothing by itself: no actions, no new state.
    func testWritabilityIsMirroredInEveryState() {
        let all: [(String, M)] = [
            ("idle", M()), ("kept", kept()), ("connecting", connecting()), ("tunnel", tunnel()),
            ("forwarding", forwarding()), ("awaiting", awaiting()), ("finishing", finishing()),
            ("rejected", rejected()), ("closing", closing()), ("tunnelled", tunnelled()), ("closed", dead()),
        ]
        for (name, start) in all {
            for writable in [false, true] {
                var m = start
                m.upstreamWritabilityChanged(writable: writable)
                XCTAssertEqual(m.state, start.state, name)
                XCTAssertEqual(m.upstream?.writable, start.upstream.map { _ in writable }, name)
                XCTAssertEqual(m.queue.count, start.queue.count, name)
            }
        }
    }

    // MARK: building states

    let origin = HostPort(host: "origin.test", port: 80)
    let tunnelTarget = HostPort(host: "origin.test", port: 443)
    let body = ByteBuffer(string: "payload")
    let refused = EngineError(.connectionRefused, "refused")
    let okHead = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "7"])
    /// An HTTP/1.0 origin: its connection cannot be reused.
    let http10Head = HTTPResponseHead(version: .http1_0, status: .ok)
    var forwardedGet: HTTPRequestHead { forwarded("/a") }
    var connectingState: M.State { .connecting(M.Request(target: origin, head: forwardedGet, keepAlive: true)) }

    func get(_ uri: String = "http://origin.test/a", close: Bool = false) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: close ? ["Connection": "close"] : [:])
    }

    func connect(_ uri: String = "origin.test:443") -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: uri)
    }

    func forwarded(_ path: String, host: String = "origin.test") -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: ["Host": host])
    }

    func connecting(_ head: HTTPRequestHead? = nil, then: (inout M) -> Void = { _ in }) -> M {
        var m = M()
        _ = m.requestHead(head ?? get(), authorized: true)
        then(&m)
        return m
    }

    func tunnel(then: (inout M) -> Void = { _ in }) -> M {
        var m = M()
        _ = m.requestHead(connect(), authorized: true)
        then(&m)
        return m
    }

    func forwarding(_ head: HTTPRequestHead? = nil, then: (inout M) -> Void = { _ in }) -> M {
        var m = connecting(head)
        _ = m.upstreamConnected(writable: true)
        then(&m)
        return m
    }

    func awaiting(_ head: HTTPRequestHead? = nil, then: (inout M) -> Void = { _ in }) -> M {
        forwarding(head) {
            _ = $0.requestEnd(nil)
            then(&$0)
        }
    }

    func kept(then: (inout M) -> Void = { _ in }) -> M {
        var m = awaiting { _ = $0.responseHead(okHead); _ = $0.responseEnd(nil) }
        then(&m)
        return m
    }

    func finishing() -> M {
        forwarding { _ = $0.responseHead(okHead); _ = $0.responseEnd(nil) }
    }

    func rejected() -> M {
        var m = M()
        _ = m.requestHead(get(), authorized: false)
        return m
    }

    func closing() -> M {
        var m = M()
        _ = m.clientFailed()
        return m
    }

    func tunnelled() -> M {
        tunnel { _ = $0.tunnelConnected() }
    }

    func dead() -> M {
        var m = M()
        _ = m.clientClosed()
        return m
    }

    /// Applies `event` to `start` and checks the actions, the state left, and (when given) the queue.
    @discardableResult
    func check(_ start: M, _ event: (inout M) -> [A], _ actions: [A], _ state: M.State, queued: Int? = nil, file: StaticString = #filePath, line: UInt = #line) -> M {
        var m = start
        XCTAssertEqual(event(&m), actions, file: file, line: line)
        XCTAssertEqual(m.state, state, file: file, line: line)
        if let queued { XCTAssertEqual(m.queue.count, queued, "queued parts", file: file, line: line) }
        return m
    }
}
