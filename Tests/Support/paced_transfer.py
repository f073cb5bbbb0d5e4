#!/usr/bin/env python3
"""Sends SIZE random bytes through HOST:PORT to an echo server, paced over about SECONDS, half-closes,
reads everything back. Prints "STARTED" once the first echoed bytes are back (the transfer is in
flight), then "OK <size> <received> <sha256>" when the echo is byte-exact, else a reason (exit 1)."""
import hashlib, os, socket, sys, threading, time

host, port, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
data = os.urandom(size)
sent_hash = hashlib.sha256(data).hexdigest()
s = socket.create_connection((host, port), timeout=60)
err = []

def writer():
    try:
        step = 1 << 16
        chunks = max(1, (size + step - 1) // step)
        pause = seconds / chunks
        view = memoryview(data)
        for i in range(0, size, step):
            s.sendall(view[i:i + step])
            time.sleep(pause)
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
    except Exception as e:
        print("ERROR after receiving", received, "of", size, "bytes:", e, flush=True); sys.exit(1)
    if not d:
        break
    if received == 0:
        print("STARTED", flush=True)
    h.update(d)
    received += len(d)
t.join()
s.close()
if err:
    print("ERROR", err[0], flush=True); sys.exit(1)
got = h.hexdigest()
if got == sent_hash and received == size:
    print("OK", size, received, got, flush=True)
else:
    print("MISMATCH", size, received, sent_hash, got, flush=True); sys.exit(1)
