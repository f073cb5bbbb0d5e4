#!/usr/bin/env python3
"""WebSocket and server-sent events through the relay's HTTPS port (http_origin.py behind it).

usage: web_checks.py MODE PORT NAME CAFILE
  ws     WebSocket over HTTPS (HTTP/1.1): handshake, echo of a small and a 200 KB message, close
         (CAFILE "-": over plain HTTP instead)
  sse1   SSE over HTTPS (HTTP/1.1): "one" arrives before the origin may send "two" (it waits for
         /sse-ack, asked on a second connection once "one" is here), then "two" and the end
  sse2   the same over h2 (the ack on a second stream of the same connection)
  connect2  CONNECT over h2 is answered 501 (WebSocket over h2 is not offered)
  stall2    a reader that takes nothing of a big answer has its stream reset by the relay (it runs
            with a --http-idle-timeout of 2 s); the connection's other streams still work, and an
            open stream that is quiet for longer than that (SSE) is not cut
  garbage2  garbage frames after the h2 preface: the relay answers GOAWAY and closes the connection
Prints "OK" or "FAIL <reason>". Every wait is bounded (20 s).
"""
import base64, os, socket, ssl, struct, sys, time
import h2.config, h2.connection, h2.events

mode, port, name, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def tls(alpn):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols([alpn])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname=name)
    if s.selected_alpn_protocol() != alpn:
        raise SystemExit("FAIL alpn %r, wanted %s" % (s.selected_alpn_protocol(), alpn))
    return s


def read_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise SystemExit("FAIL closed after %d of %d bytes" % (len(out), n))
        out += d
    return out


def read_head(s):
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            raise SystemExit("FAIL closed in a head")
        head += d
    return head.decode()


def ws():
    s = socket.create_connection(("127.0.0.1", port), timeout=20) if cafile == "-" else tls("http/1.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (name, key)).encode())
    head = read_head(s)
    if not head.startswith("HTTP/1.1 101"):
        raise SystemExit("FAIL handshake %r" % head)
    for payload in [b"hello", os.urandom(200_000)]:
        mask = os.urandom(4)
        n = len(payload)
        frame = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack("!Q", n))
        s.sendall(frame + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        h = read_exact(s, 2)
        m = h[1] & 0x7F
        if m == 126:
            m = struct.unpack("!H", read_exact(s, 2))[0]
        elif m == 127:
            m = struct.unpack("!Q", read_exact(s, 8))[0]
        if read_exact(s, m) != payload:
            raise SystemExit("FAIL echo differs (%d bytes)" % n)
    s.sendall(bytes([0x88, 0x80]) + b"\0\0\0\0")
    if read_exact(s, 2) != b"\x88\x00":
        raise SystemExit("FAIL close frame")


def get1(path):
    s = tls("http/1.1")
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, name)).encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d


def sse1():
    s = tls("http/1.1")
    s.sendall(("GET /sse HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n" % name).encode())
    buf = b""
    while b"data: one" not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("FAIL closed before the first event")
        buf += d
    if b"text/event-stream" not in buf:
        raise SystemExit("FAIL content type %r" % buf[:200])
    get1("/sse-ack")
    while b"data: two" not in buf or not buf.endswith(b"0\r\n\r\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    if b"data: two" not in buf:
        raise SystemExit("FAIL second event missing")
    stats = get1("/stats")
    if b'"sse_acked": true' not in stats:
        raise SystemExit("FAIL the origin sent 'two' before the ack: %r" % stats[-100:])


def h2conn():
    s = tls("h2")
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c


def h2get(c, path, method="GET"):
    sid = c.get_next_available_stream_id()
    headers = [(":method", method), (":authority", name)]
    if method != "CONNECT":
        headers += [(":scheme", "https"), (":path", path)]
    c.send_headers(sid, headers, end_stream=method != "CONNECT")
    return sid


def pump(s, c, state, stalled=False):
    """One read's events into `state` per stream. `stalled`: the reader takes nothing of its
    streams (only the connection's window reopens) and keeps no data."""
    d = s.recv(65536)
    if not d:
        raise SystemExit("FAIL connection closed")
    for ev in c.receive_data(d):
        if isinstance(ev, h2.events.ResponseReceived):
            state.setdefault(ev.stream_id, {})["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived) and stalled:
            c.increment_flow_control_window(ev.flow_controlled_length)
        elif isinstance(ev, h2.events.DataReceived):
            st = state.setdefault(ev.stream_id, {})
            st["data"] = st.get("data", b"") + ev.data
            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            state.setdefault(ev.stream_id, {})["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            state.setdefault(ev.stream_id, {})["reset"] = True
    out = c.data_to_send()
    if out:
        s.sendall(out)


def sse2():
    s, c = h2conn()
    sid = h2get(c, "/sse")
    s.sendall(c.data_to_send())
    state = {}
    deadline = time.monotonic() + 20
    while b"data: one" not in state.get(sid, {}).get("data", b""):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL first event not delivered")
        pump(s, c, state)
    if state[sid]["headers"].get("content-type") != "text/event-stream":
        raise SystemExit("FAIL headers %r" % state[sid]["headers"])
    ack = h2get(c, "/sse-ack")
    s.sendall(c.data_to_send())
    while not (state.get(sid, {}).get("ended") and state.get(ack, {}).get("ended")):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL stream did not end")
        pump(s, c, state)
    if state[sid]["data"] != b"data: one\n\ndata: two\n\n":
        raise SystemExit("FAIL events %r" % state[sid]["data"])
    stats = h2get(c, "/stats")
    s.sendall(c.data_to_send())
    while not state.get(stats, {}).get("ended"):
        pump(s, c, state)
    if b'"sse_acked": true' not in state[stats]["data"]:
        raise SystemExit("FAIL the origin sent 'two' before the ack: %r" % state[stats]["data"])


def connect2():
    s, c = h2conn()
    sid = h2get(c, None, "CONNECT")
    s.sendall(c.data_to_send())
    state = {}
    deadline = time.monotonic() + 20
    while "headers" not in state.get(sid, {}):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL no answer to CONNECT")
        pump(s, c, state)
    if state[sid]["headers"].get(":status") != "501":
        raise SystemExit("FAIL CONNECT answered %r" % state[sid]["headers"])


def stall2():
    s, c = h2conn()
    sid = h2get(c, "/blob/%d" % (64 << 20))
    s.sendall(c.data_to_send())
    state = {}
    deadline = time.monotonic() + 30
    while not state.get(sid, {}).get("reset"):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL the stalled stream was never reset")
        pump(s, c, state, stalled=True)
        if state.get(sid, {}).get("ended"):
            raise SystemExit("FAIL the stalled stream completed")
    other = h2get(c, "/info")
    s.sendall(c.data_to_send())
    while not state.get(other, {}).get("ended"):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL no answer after the reset")
        pump(s, c, state)
    if state[other]["headers"].get(":status") != "200":
        raise SystemExit("FAIL after the reset: %r" % state[other])
    # A quiet open stream outlives the idle timeout: only a connection without streams idles.
    sse = h2get(c, "/sse")
    s.sendall(c.data_to_send())
    while b"data: one" not in state.get(sse, {}).get("data", b""):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL first event not delivered")
        pump(s, c, state)
    time.sleep(3)
    ack = h2get(c, "/sse-ack")
    s.sendall(c.data_to_send())
    while not state.get(sse, {}).get("ended"):
        if time.monotonic() > deadline + 10:
            raise SystemExit("FAIL the quiet stream did not finish")
        pump(s, c, state)
    if state[sse]["data"] != b"data: one\n\ndata: two\n\n":
        raise SystemExit("FAIL quiet stream got %r" % state[sse]["data"])


def garbage2():
    s = tls("h2")
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\xff" * 50)
    got = b""
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            raise SystemExit("FAIL the connection stayed open")
        if not d:
            break
        got += d
    # SETTINGS, then GOAWAY (type 7).
    if b"\x07\x00\x00\x00\x00\x00" not in got:
        raise SystemExit("FAIL no GOAWAY in %r" % got)


try:
    {"stall2": stall2, "garbage2": garbage2, "ws": ws, "sse1": sse1, "sse2": sse2, "connect2": connect2}[mode]()
    print("OK")
except SystemExit as e:
    print(e)
    sys.exit(1)
