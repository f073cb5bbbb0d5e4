#!/usr/bin/env python3
"""Sends N random bytes through HOST:PORT to an echo server, half-closes, reads everything back.
Prints "OK <sent> <received> <sha256>" when the echo is byte-exact, else "MISMATCH ..." (exit 1).
Optional SOCKS5/HTTP proxy step is not needed: the target is a forwarder port."""
import hashlib, os, socket, sys, threading

host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60
# Optional: an HTTP request head first (for a relay's HTTP entrypoint that routes by Host); the
# echo returns it with the rest, so it is part of what is checked.
http_host = sys.argv[5] if len(sys.argv) > 5 else None
data = os.urandom(size)
if http_host:
    data = ("POST / HTTP/1.1\r\nHost: %s\r\n\r\n" % http_host).encode() + data[: size - 64]
    size = len(data)
sent_hash = hashlib.sha256(data).hexdigest()
s = socket.create_connection((host, port), timeout=timeout)
err = []
def writer():
    try:
        view = memoryview(data)
        step = 1 << 16
        for i in range(0, len(view), step):
            s.sendall(view[i:i + step])
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        err.append(e)
t = threading.Thread(target=writer)
t.start()
h = hashlib.sha256()
received = 0
while True:
    try:
        d = s.recv(1 << 18)
    except socket.timeout:
        print("TIMEOUT after receiving", received, "of", size, "bytes; writer done:", not t.is_alive()); sys.exit(1)
    if not d:
        break
    h.update(d)
    received += len(d)
t.join()
s.close()
if err:
    print("ERROR", err[0]); sys.exit(1)
got = h.hexdigest()
if got == sent_hash and received == size:
    print("OK", size, received, got)
else:
    print("MISMATCH", size, received, sent_hash, got); sys.exit(1)
