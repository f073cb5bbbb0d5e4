#!/usr/bin/env python3
"""Connects to a relay's agent endpoint over TLS (no verification), then never registers:
MODE "nothing" sends nothing, "preface" sends only the Mux preface (docs/mux.md §2). Waits for the
relay to close the connection; prints "CLOSED <seconds>", or "STILL OPEN" after LIMIT s (exit 1)."""
import socket, ssl, struct, sys, time

host, port, mode, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
raw = socket.create_connection((host, port), timeout=limit)
s = ctx.wrap_socket(raw, server_hostname="localhost")
start = time.time()
if mode == "preface":
    s.sendall(b"TMUX" + bytes([1, 0, 0, 0]) + struct.pack(">I", 65536))
try:
    while True:
        d = s.recv(65536)  # the relay's preface and pings arrive; an empty read is the close
        if not d:
            break
except socket.timeout:
    print("STILL OPEN after", limit, "s", flush=True); sys.exit(1)
except (ssl.SSLError, OSError):
    pass
print("CLOSED %.1f" % (time.time() - start), flush=True)
