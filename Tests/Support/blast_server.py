#!/usr/bin/env python3
"""Sends SIZE deterministic pseudo-random bytes to every client, then closes the socket at once
(no waiting for the client to read). Prints "PORT <n> SHA <hex>". Exits after 300 s at most."""
import hashlib, random, socket, sys, threading, time

size = int(sys.argv[1])
data = random.Random(42).randbytes(size)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(16)
print("PORT", srv.getsockname()[1], "SHA", hashlib.sha256(data).hexdigest(), flush=True)

def serve(c):
    with c:
        c.sendall(data)

srv.settimeout(0.5)
end = time.time() + 300
while time.time() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
