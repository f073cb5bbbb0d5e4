#!/usr/bin/env python3
"""Sends SIZE deterministic pseudo-random bytes to every client, then closes the socket at once
(no waiting for the client to read). Prints "PORT <n> SHA <hex>". Exits after 300 s at most."""
import hashlib, random, socket, sys, threading, time
import loopback

size = int(sys.argv[1])
data = random.Random(42).randbytes(size)
srv = loopback.listen()
print("PORT", srv.getsockname()[1], "SHA", hashlib.sha256(data).hexdigest(), flush=True)

def serve(c):
    with c:
        c.sendall(data)

loopback.serve(srv, serve)
