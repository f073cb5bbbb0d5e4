#!/usr/bin/env python3
"""COUNT clients of an HTTP proxy at HOST:PORT, each on its own connection: one keep-alive
absolute-form GET of http://HOST:ORIGIN/PATH (HTTP/1.1, no Connection header), the whole response
read (by Content-Length), then a plain close while the connection is idle between requests.
CONCURRENCY clients at a time. Prints "OK <count>" or "FAIL <ok> <first error>" (exit 1).
Every socket operation has a timeout and the whole run a deadline."""
import socket, sys, threading, time

host, port, origin, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
path = sys.argv[5] if len(sys.argv) > 5 else "/info"
concurrency = int(sys.argv[6]) if len(sys.argv) > 6 else 8
deadline = time.time() + 100
request = (f"GET http://{host}:{origin}{path} HTTP/1.1\r\nHost: {host}:{origin}\r\n\r\n").encode()


def one():
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                raise RuntimeError("closed before the response head")
            data += d
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 200"):
            raise RuntimeError(f"status {lines[0]!r}")
        length = next(int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:"))
        if any(l.lower().startswith("connection:") and "close" in l.lower() for l in lines[1:]):
            raise RuntimeError("the proxy did not keep the connection alive")
        while len(body) < length:
            d = s.recv(65536)
            if not d:
                raise RuntimeError("closed mid-body")
            body += d
    finally:
        s.close()


lock = threading.Lock()
state = {"next": 0, "ok": 0, "errors": []}


def worker():
    while time.time() < deadline:
        with lock:
            if state["next"] >= count:
                return
            state["next"] += 1
        try:
            one()
            with lock:
                state["ok"] += 1
        except Exception as e:
            with lock:
                state["errors"].append(repr(e))


threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join(max(0.1, deadline - time.time()))
if state["ok"] == count:
    print("OK", count)
else:
    print("FAIL", state["ok"], state["errors"][:1])
    sys.exit(1)
