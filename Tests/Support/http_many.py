#!/usr/bin/env python3
"""COUNT GETs of /api/many-<i> with Host: HOST at 127.0.0.1:PORT, over CONNS keep-alive
connections at once (each request's whole answer read by Content-Length). Prints "OK <count>"
when every answer was 200, else "FAIL <ok> <first error>" (exit 1). Every socket operation has
a timeout and the whole run a deadline (90 s)."""
import socket, sys, threading, time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
deadline = time.time() + 90
lock = threading.Lock()
state = {"next": 0, "ok": 0, "error": None}


def take():
    with lock:
        if state["next"] >= count or state["error"] or time.time() > deadline:
            return None
        state["next"] += 1
        return state["next"] - 1


def read_answer(f):
    status = f.readline()
    if not status:
        raise RuntimeError("closed before an answer")
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    f.read(length)
    return status.decode("latin-1").strip()


def worker():
    s = f = None
    try:
        while (i := take()) is not None:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                f = s.makefile("rb")
            s.sendall(("GET /api/many-%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (i, host)).encode())
            status = read_answer(f)
            if not status.startswith("HTTP/1.1 200"):
                raise RuntimeError("request %d: %s" % (i, status))
            with lock:
                state["ok"] += 1
    except Exception as e:
        with lock:
            state["error"] = state["error"] or repr(e)
    finally:
        if s:
            s.close()


threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join(max(1, deadline - time.time()))
if state["ok"] == count:
    print("OK", count)
else:
    print("FAIL", state["ok"], state["error"] or "deadline")
    sys.exit(1)
