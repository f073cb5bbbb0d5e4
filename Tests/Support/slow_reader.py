#!/usr/bin/env python3
"""Connects to HOST:PORT, half-closes its side, reads slowly at first (so every buffer on the way fills up while the
server has already closed), then reads the rest; prints "OK <bytes> <sha256>" (bounded time)."""
import hashlib, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.shutdown(socket.SHUT_WR)  # half-close first: we only read from here on
h = hashlib.sha256(); n = 0
time.sleep(1.5)  # the server sends everything and closes while we do not read
deadline = time.time() + 60
while time.time() < deadline:
    d = s.recv(65536)
    if not d:
        break
    h.update(d); n += len(d)
print("OK", n, h.hexdigest())
