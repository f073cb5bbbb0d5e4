#!/usr/bin/env python3
"""What an attacker does to the relay's public entrypoint (PORT on 127.0.0.1), and what a visitor
must still get. Every loop is bounded in count and time. Prints "OK ..." or "FAIL <reason>" (exit 1).

churn PORT HOST COUNT PID
    COUNT HTTP requests, each on its own connection (8 at a time; half with `Connection: close`,
    half closed by the client after the answer, as curl does), while sampling the RSS of PID
    (the relay) after the first tenth and at the end; prints "OK <answered> <rss growth KiB>".
dribble PORT HOST SECONDS
    sends a request head one byte every 0.5 s; the relay must answer 408 (or close) within
    SECONDS; prints "OK <status> <elapsed>".
finhead PORT
    half a head, then FIN: the relay must close at once; prints "OK <elapsed>".
finrequest PORT HOST COUNT
    COUNT connections that each send a whole request together with FIN; every one must be
    answered; prints "OK <answered>".
caps PORT HOST PER_IP TOTAL
    holds PER_IP half-sent heads from 127.0.0.1: one more from 127.0.0.1 is closed at once while
    127.0.0.2 is still served; then fills the rest of TOTAL from 127.0.0.3.. : one more from a new
    address is closed at once; after everything closes, 127.0.0.1 is served again.
    prints "OK".
badchunk PORT HOST
    a chunked POST whose chunk-size line is not hex: 400 within 5 s; prints "OK <elapsed>".
nohost PORT
    an HTTP/1.1 request without Host: 400; prints "OK".
stalledbody PORT HOST SECONDS
    a POST whose body stops after 10 of 1,000 bytes: the relay must close within SECONDS;
    prints "OK <elapsed>".
noread PORT HOST PATH SIZE WAIT
    asks for PATH (SIZE bytes) with a small receive buffer and reads nothing for WAIT seconds:
    the relay must have cut the connection off (fewer than SIZE bytes arrive); prints "OK <bytes>".
origin LIFETIME
    a minimal keep-alive HTTP origin that answers every request with one write (Python's
    http.server writes head and body apart, which costs 40 ms of delayed ACK per request);
    prints "PORT <n>".
"""
import os, socket, sys, threading, time

LIMIT = 30


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


def connect(port, source="127.0.0.1", timeout=LIMIT):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s, limit=1 << 20):
    data = b""
    while len(data) < limit:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        data += d
    return data


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def get(port, host, source="127.0.0.1"):
    s = connect(port, source, timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    data = read_all(s)
    s.close()
    return status_of(data)


def get_then_close(port, host):
    """A request without `Connection: close`, its answer read by Content-Length, then the client
    closes (what curl and browsers do)."""
    s = connect(port, timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        d = s.recv(65536)
        if not d:
            break
        body += d
    s.close()
    return status_of(data) if len(body) == length else 0


def closed_at_once(port, source, within=2.0):
    """Whether a new connection from `source` is closed by the relay without an answer, quickly."""
    start = time.time()
    try:
        s = connect(port, source, timeout=within + 1)
        s.sendall(b"GET / HTTP/1.1\r\n")
        data = read_all(s)
        s.close()
    except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError):
        return True
    except socket.timeout:
        return False
    return data == b"" and time.time() - start < within


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def churn(port, host, count, pid):
    answered = [0]
    lock = threading.Lock()
    marks = {}
    next_i = [0]
    deadline = time.time() + 240

    def worker():
        while time.time() < deadline:
            with lock:
                i = next_i[0]
                if i >= count:
                    return
                next_i[0] += 1
                if i == count // 10:
                    marks["before"] = rss_kib(pid)
            try:
                if (get(port, host) if i % 2 else get_then_close(port, host)) == 200:
                    with lock:
                        answered[0] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1)
    after = rss_kib(pid)
    if answered[0] < count * 0.99:
        fail("only %d of %d answered" % (answered[0], count))
    print("OK %d %d" % (answered[0], after - marks.get("before", after)), flush=True)


def dribble(port, host, seconds):
    s = connect(port)
    head = b"GET / HTTP/1.1\r\nHost: %s\r\nX-Padding: %s\r\n\r\n" % (host.encode(), b"a" * 200)
    start = time.time()
    s.settimeout(0.5)
    data = b""
    for byte in head:
        if time.time() - start > seconds:
            break
        try:
            s.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            d = s.recv(65536)
            if not d:
                break
            data += d
            break
        except socket.timeout:
            pass
    elapsed = time.time() - start
    s.settimeout(2)
    data += read_all(s)
    code = status_of(data)
    if elapsed > seconds:
        fail("still open after %.1f s of dribbling" % elapsed)
    print("OK %d %.1f" % (code, elapsed), flush=True)


def finhead(port):
    s = connect(port, timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    time.sleep(0.2)
    start = time.time()
    s.shutdown(socket.SHUT_WR)
    read_all(s)
    elapsed = time.time() - start
    if elapsed > 1.5:
        fail("closed only after %.1f s" % elapsed)
    print("OK %.2f" % elapsed, flush=True)


def finrequest(port, host, count):
    answered = 0
    for _ in range(count):
        s = connect(port, timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        s.shutdown(socket.SHUT_WR)
        if status_of(read_all(s)) == 200:
            answered += 1
        s.close()
    if answered != count:
        fail("%d of %d requests sent with FIN answered" % (answered, count))
    print("OK %d" % answered, flush=True)


def caps(port, host, per_ip, total):
    held = []
    try:
        for _ in range(per_ip):
            s = connect(port, "127.0.0.1")
            s.sendall(b"GET / HTTP/1.1\r\n")
            held.append(s)
        time.sleep(0.3)
        if not closed_at_once(port, "127.0.0.1"):
            fail("connection %d from 127.0.0.1 was admitted" % (per_ip + 1))
        if get(port, host, "127.0.0.2") != 200:
            fail("127.0.0.2 not served while 127.0.0.1 is at its cap")
        n = 3
        while len(held) < total:
            for _ in range(min(per_ip, total - len(held))):
                s = connect(port, "127.0.0.%d" % n)
                s.sendall(b"GET / HTTP/1.1\r\n")
                held.append(s)
            n += 1
        time.sleep(0.3)
        if not closed_at_once(port, "127.0.0.%d" % (n + 1)):
            fail("a connection past the total cap of %d was admitted" % total)
    finally:
        for s in held:
            s.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if get(port, host, "127.0.0.1") == 200:
                print("OK", flush=True)
                return
        except OSError:
            pass
        time.sleep(0.2)
    fail("127.0.0.1 not served again after its connections closed")


def badchunk(port, host):
    s = connect(port, timeout=10)
    start = time.time()
    s.sendall(b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n" % host.encode())
    data = read_all(s)
    elapsed = time.time() - start
    if status_of(data) != 400 or elapsed > 5:
        fail("answered %r after %.1f s" % (data[:60], elapsed))
    print("OK %.2f" % elapsed, flush=True)


def stalledbody(port, host, seconds):
    s = connect(port, timeout=seconds + 5)
    start = time.time()
    s.sendall(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n" % host.encode() + b"x" * 10)
    read_all(s)
    elapsed = time.time() - start
    if elapsed > seconds:
        fail("a stalled body held the connection %.1f s" % elapsed)
    print("OK %.1f" % elapsed, flush=True)


def noread(port, host, path, size, wait):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    time.sleep(wait)
    got = 0
    try:
        while got < size + 4096:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
    except (ConnectionResetError, socket.timeout):
        pass
    if got >= size:
        fail("the whole answer (%d bytes) waited for a client that read nothing" % got)
    print("OK %d" % got, flush=True)


def nohost(port):
    s = connect(port, timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\n\r\n")
    code = status_of(read_all(s))
    if code != 400:
        fail("HTTP/1.1 without Host answered %d" % code)
    print("OK", flush=True)


def origin(lifetime):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import loopback
    srv = loopback.listen(backlog=1024)
    page = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"

    def handle(c):
        c.settimeout(LIMIT)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[buf.index(b"\r\n\r\n") + 4:]
                c.sendall(page)
        except OSError:
            pass
        finally:
            c.close()

    print("PORT", srv.getsockname()[1], flush=True)
    loopback.serve(srv, handle, lifetime)


mode = sys.argv[1]
args = sys.argv[2:]
if mode == "churn":
    churn(int(args[0]), args[1], int(args[2]), int(args[3]))
elif mode == "dribble":
    dribble(int(args[0]), args[1], float(args[2]))
elif mode == "finhead":
    finhead(int(args[0]))
elif mode == "finrequest":
    finrequest(int(args[0]), args[1], int(args[2]))
elif mode == "caps":
    caps(int(args[0]), args[1], int(args[2]), int(args[3]))
elif mode == "badchunk":
    badchunk(int(args[0]), args[1])
elif mode == "nohost":
    nohost(int(args[0]))
elif mode == "stalledbody":
    stalledbody(int(args[0]), args[1], float(args[2]))
elif mode == "noread":
    noread(int(args[0]), args[1], args[2], int(args[3]), float(args[4]))
elif mode == "origin":
    origin(float(args[0]))
else:
    fail("unknown mode " + mode)
