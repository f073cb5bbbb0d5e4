#!/usr/bin/env python3
"""Many concurrent h2 streams on one TLS connection, one of them with a stalled reader.

usage: h2_streams.py PORT NAME CAFILE COUNT SIZE STALLED_SIZE [GATE]

Opens COUNT streams at once for GET /blob/SIZE (stream 1: /blob/STALLED_SIZE) on the relay's
HTTPS port (SNI and :authority NAME, ALPN h2, trust CAFILE). The first stream's reader stalls: its
data is acknowledged only at the connection level, never for the stream, so its window stays
shut. Every other stream must complete with the SHA-256 its X-Sha256 header announces while the
stalled one is still open. With GATE (a file path), it then prints "HOLDING" and waits for that
file to exist (60 s at most), so the test can look at the relay and the origin meanwhile. Then
the stalled reader resumes and must complete byte-exact too.
Prints "OK completed=N stalled_before=B" or "FAIL <reason>". Bounded: 120 s overall.
"""
import hashlib, socket, ssl, sys, time
import h2.config, h2.connection, h2.events

import os
port, name, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
gate = sys.argv[7] if len(sys.argv) > 7 else None
count, size, stalled_size = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
deadline = time.monotonic() + 120

ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=name)
if sock.selected_alpn_protocol() != "h2":
    print("FAIL alpn %r" % sock.selected_alpn_protocol())
    sys.exit(1)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.initiate_connection()
# A large connection window: only stream windows should pace anything.
conn.increment_flow_control_window(1 << 30)
sock.sendall(conn.data_to_send())

streams = {}
for i in range(count):
    sid = conn.get_next_available_stream_id()
    n = stalled_size if i == 0 else size
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", name), (":path", "/blob/%d" % n)], end_stream=True)
    streams[sid] = {"n": n, "sha": hashlib.sha256(), "got": 0, "want": None, "done": False, "status": None, "pending": 0}
stalled = min(streams)
sock.sendall(conn.data_to_send())
stalled_open = True


def pump():
    data = sock.recv(1 << 20)
    if not data:
        raise SystemExit("FAIL connection closed")
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            h = dict(ev.headers)
            streams[ev.stream_id]["status"] = h.get(":status")
            streams[ev.stream_id]["want"] = h.get("x-sha256")
        elif isinstance(ev, h2.events.DataReceived):
            s = streams[ev.stream_id]
            s["sha"].update(ev.data)
            s["got"] += len(ev.data)
            if ev.stream_id == stalled and stalled_open:
                # Only the connection's window reopens; the stream's stays shut.
                s["pending"] += ev.flow_controlled_length
                if ev.flow_controlled_length:
                    conn.increment_flow_control_window(ev.flow_controlled_length)
            else:
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            streams[ev.stream_id]["done"] = True
        elif isinstance(ev, h2.events.StreamReset):
            raise SystemExit("FAIL stream %d reset" % ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            raise SystemExit("FAIL connection terminated %r" % ev)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)


def check(sid):
    s = streams[sid]
    return s["status"] == "200" and s["got"] == s["n"] and s["sha"].hexdigest() == s["want"]


try:
    while not all(s["done"] for sid, s in streams.items() if sid != stalled):
        if time.monotonic() > deadline:
            raise SystemExit("FAIL timed out with %d open" % sum(1 for s in streams.values() if not s["done"]))
        pump()
    bad = [sid for sid in streams if sid != stalled and not check(sid)]
    if bad:
        raise SystemExit("FAIL streams %s incomplete or corrupt" % bad[:5])
    if streams[stalled]["done"]:
        raise SystemExit("FAIL the stalled stream completed through a shut window")
    stalled_before = streams[stalled]["got"]
    if gate:
        print("HOLDING stalled_got=%d" % stalled_before, flush=True)
        held = time.monotonic() + 60
        while not os.path.exists(gate) and time.monotonic() < held:
            time.sleep(0.05)
    # The stalled reader resumes.
    stalled_open = False
    if streams[stalled]["pending"]:
        conn.increment_flow_control_window(streams[stalled]["pending"], stream_id=stalled)
        sock.sendall(conn.data_to_send())
    while not streams[stalled]["done"]:
        if time.monotonic() > deadline:
            raise SystemExit("FAIL the resumed stream did not finish (%d of %d)" % (streams[stalled]["got"], stalled_size))
        pump()
    if not check(stalled):
        raise SystemExit("FAIL the resumed stream is corrupt (%d of %d)" % (streams[stalled]["got"], stalled_size))
    print("OK completed=%d stalled_before=%d" % (count - 1, stalled_before))
except SystemExit as e:
    print(e)
    sys.exit(1)
