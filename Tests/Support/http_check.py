#!/usr/bin/env python3
"""Client checks for the relay's HTTP entrypoint, over one keep-alive connection.

keepalive PORT HOST_A NAME_A HOST_B NAME_B
    requests alternating between two hosts (two tunnels) on one connection, sequential and
    pipelined; HEAD; POST with Content-Length and chunked bodies (SHA-256 checked by the origin);
    large Content-Length and chunked downloads (SHA-256 checked here); X-Forwarded-For/-Proto;
    an origin that closes after a response; then the next request still works.
count PORT HOST N
    N requests, each on its own connection; prints "COUNTS name=k ..." of the origins that answered.
idle PORT HOST
    one request, then silence: prints "IDLE_CLOSED <seconds>"; then a new connection that sends
    half a head: prints "PARTIAL <status> <seconds>".
hostile PORT HOST_A NAME_A HOST_B NAME_B
    what a hostile origin or client tries: an origin answering twice (the extra answer must not
    reach the client as another tunnel's), a declined upgrade (the connection stays HTTP, routed
    per request), an early answer with a body still on its way (no smuggled request), both framings
    or two Hosts (400), a bad pipelined request after a large answer (answer, then 400), the
    origin's half-close after an upgrade (the client can still send).
slow PORT HOST SIZE PID [MIB_PER_S]
    downloads SIZE bytes at about MIB_PER_S (default 16) MiB/s with a small receive buffer while sampling the RSS of
    process PID (the relay); prints "OK <bytes> <max RSS growth in KiB>" when the body is exact.
upgrade PORT HOST SIZE
    an Upgrade request, then SIZE random bytes echoed back raw after 101, with half-close.
Prints "OK ..." on success, else a reason, exit 1.
"""
import hashlib, json, os, socket, sys, threading, time

TIMEOUT = 60


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError("connection closed by the relay")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n")
        l, self.buf = self.buf[:i], self.buf[i + 2:]
        return l

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def response(self, method="GET"):
        status = self.line().decode()
        code = int(status.split(" ")[1])
        headers = {}
        while True:
            l = self.line()
            if not l:
                break
            k, v = l.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = b""
        if method == "HEAD" or code in (101, 204, 304):
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                parts.append(self.take(size))
                self.line()
            body = b"".join(parts)
        elif "content-length" in headers:
            body = self.take(int(headers["content-length"]))
        return code, headers, body


def req(method, host, path, extra="", body=b""):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (method, path, host, extra)).encode() + body


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


def expect_info(resp, name, host, xff="127.0.0.1"):
    code, _, body = resp
    if code != 200:
        fail("status %d for %s: %r" % (code, host, body[:200]))
    info = json.loads(body)
    if info["name"] != name or info["host"] != host:
        fail("routed to %s (host %s), expected %s (host %s)" % (info["name"], info["host"], name, host))
    if info["xff"] != xff or info["xfp"] != "http":
        fail("forwarding headers %r %r, expected %r http" % (info["xff"], info["xfp"], xff))


def keepalive(port, host_a, name_a, host_b, name_b):
    c = Conn(port)
    count = 0
    # Sequential, alternating tunnels on one connection.
    for host, name in [(host_a, name_a), (host_b, name_b), (host_a, name_a), (host_a, name_a), (host_b, name_b)]:
        c.send(req("GET", host, "/info"))
        expect_info(c.response(), name, host)
        count += 1
    # Pipelined: three requests at once, across a tunnel change; answers in order.
    c.send(req("GET", host_a, "/info") + req("GET", host_a, "/info") + req("GET", host_b, "/info") + req("HEAD", host_b, "/info"))
    expect_info(c.response(), name_a, host_a)
    expect_info(c.response(), name_a, host_a)
    expect_info(c.response(), name_b, host_b)
    code, headers, body = c.response("HEAD")
    if code != 200 or body or int(headers["content-length"]) <= 0:
        fail("HEAD answered %d with %d body bytes" % (code, len(body)))
    count += 4
    # A client's own X-Forwarded-For is extended, its X-Forwarded-Proto replaced.
    c.send(req("GET", host_a, "/info", "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\n"))
    expect_info(c.response(), name_a, host_a, xff="10.1.2.3, 127.0.0.1")
    # Uploads: Content-Length and chunked, checked by the origin.
    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    c.send(req("POST", host_b, "/sha", "Content-Length: %d\r\n" % len(data), data))
    code, _, body = c.response()
    info = json.loads(body)
    if info["sha256"] != digest or info["name"] != name_b:
        fail("content-length upload: %r" % info)
    chunked = b""
    i = 0
    for n in [1, 10, 1000, 65536, 300000, 1 << 20]:
        part = data[i:i + n]
        chunked += b"%x\r\n" % len(part) + part + b"\r\n"
        i += n
    rest = data[:i]
    chunked += b"0\r\n\r\n"
    c.send(req("POST", host_a, "/sha", "Transfer-Encoding: chunked\r\n", chunked))
    code, _, body = c.response()
    info = json.loads(body)
    if info["sha256"] != hashlib.sha256(rest).hexdigest() or info["name"] != name_a:
        fail("chunked upload: %r" % info)
    count += 2
    # Downloads: Content-Length and chunked with trailers.
    for path in ["/blob/%d" % (16 << 20), "/chunked/%d" % (4 << 20)]:
        c.send(req("GET", host_b, path))
        code, headers, body = c.response()
        if code != 200 or hashlib.sha256(body).hexdigest() != headers.get("x-sha256"):
            fail("download %s: status %d, %d bytes, hash mismatch" % (path, code, len(body)))
        count += 1
    # The origin closes after this answer; the relay opens a new stream for the next request.
    c.send(req("GET", host_a, "/close"))
    code, headers, body = c.response()
    if body != b"closing":
        fail("close page: %r" % body)
    c.send(req("GET", host_a, "/info"))
    expect_info(c.response(), name_a, host_a)
    count += 2
    # Connection: close from the client: the relay closes after the answer.
    c.send(req("GET", host_b, "/info", "Connection: close\r\n"))
    expect_info(c.response(), name_b, host_b)
    c.s.settimeout(10)
    if c.s.recv(1) != b"":
        fail("connection still open after Connection: close")
    print("OK %d requests" % (count + 1), flush=True)


def upgrade(port, host, size):
    c = Conn(port)
    c.send(req("GET", host, "/upgrade", "Connection: Upgrade\r\nUpgrade: echo\r\n"))
    code, _, _ = c.response()
    if code != 101:
        fail("upgrade answered %d" % code)
    data = os.urandom(size)
    errors = []

    def writer():
        try:
            for i in range(0, len(data), 1 << 16):
                c.s.sendall(data[i:i + (1 << 16)])
            c.s.shutdown(socket.SHUT_WR)
        except Exception as e:
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    h = hashlib.sha256(c.buf)
    got = len(c.buf)
    while True:
        d = c.s.recv(1 << 16)
        if not d:
            break
        h.update(d)
        got += len(d)
    t.join()
    if errors or got != size or h.hexdigest() != hashlib.sha256(data).hexdigest():
        fail("upgrade echo: %d of %d bytes, errors %r" % (got, size, errors))
    print("OK %d %s" % (got, h.hexdigest()), flush=True)


def count(port, host, n):
    seen = {}
    for _ in range(n):
        c = Conn(port)
        c.send(req("GET", host, "/info", "Connection: close\r\n"))
        code, _, body = c.response()
        name = json.loads(body)["name"] if code == 200 else "status-%d" % code
        seen[name] = seen.get(name, 0) + 1
        c.s.close()
    print("COUNTS " + " ".join("%s=%d" % kv for kv in sorted(seen.items())), flush=True)


def idle(port, host):
    import time
    c = Conn(port)
    c.send(req("GET", host, "/info"))
    code, _, _ = c.response()
    start = time.time()
    c.s.settimeout(30)
    if c.s.recv(1) != b"":
        fail("bytes after the answer on an idle connection")
    print("IDLE_CLOSED %.1f" % (time.time() - start), flush=True)
    c = Conn(port)
    c.send(("GET / HTTP/1.1\r\nHost: %s\r\n" % host).encode())
    start = time.time()
    c.s.settimeout(30)
    code, _, _ = c.response()
    print("PARTIAL %d %.1f" % (code, time.time() - start), flush=True)


def closed(c):
    c.s.settimeout(10)
    try:
        while True:
            c.fill()
    except EOFError:
        return True
    except ConnectionResetError:
        return True


def hostile(port, host_a, name_a, host_b, name_b):
    # An extra answer from A's origin never reaches the client as B's.
    c = Conn(port)
    c.send(req("GET", host_a, "/inject") + req("GET", host_b, "/info"))
    code, _, body = c.response()
    if body != b"A-inject-ok":
        fail("inject: first answer %r" % body)
    expect_info(c.response(), name_b, host_b)
    # A declined upgrade keeps the connection HTTP: the next request is routed and rewritten.
    c = Conn(port)
    c.send(req("GET", host_a, "/info", "Connection: upgrade\r\nUpgrade: foo\r\n"))
    expect_info(c.response(), name_a, host_a)
    c.send(req("GET", host_b, "/info", "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"))
    expect_info(c.response(), name_b, host_b, xff="6.6.6.6, 127.0.0.1")
    # An early answer while the body is still coming: what follows is never taken as a request.
    c = Conn(port)
    smuggled = req("GET", host_b, "/info")
    c.send(req("POST", host_a, "/early", "Content-Length: %d\r\n" % (1 + len(smuggled)), b"x"))
    code, _, _ = c.response()
    if code != 401:
        fail("early: %d" % code)
    time.sleep(0.5)
    try:
        c.send(smuggled)
    except OSError:
        pass
    if not closed(c) or c.buf:
        fail("early: bytes after the 401: %r" % c.buf[:100])
    # Both framings, two Hosts, a space before the colon: 400.
    for extra in ["Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "Host: %s\r\n" % host_b, "Transfer-Encoding : chunked\r\n"]:
        c = Conn(port)
        c.send(req("POST", host_a, "/sha", extra, b"0\r\n\r\n"))
        code, _, _ = c.response()
        if code != 400:
            fail("smuggling head %r answered %d" % (extra, code))
    # A bad request pipelined after a large answer: the answer first, whole, then 400.
    c = Conn(port)
    c.send(req("GET", host_a, "/blob/3000000") + req("GET", host_a, "/", "Content-Length: x\r\n"))
    code, headers, body = c.response()
    if code != 200 or hashlib.sha256(body).hexdigest() != headers.get("x-sha256"):
        fail("pipelined: first answer %d, %d bytes" % (code, len(body)))
    code, _, _ = c.response()
    if code != 400:
        fail("pipelined: bad request answered %d" % code)
    # The origin half-closes after 101: the client still gets its bytes through.
    c = Conn(port)
    c.send(req("GET", host_a, "/up101", "Connection: Upgrade\r\nUpgrade: bye\r\n"))
    code, _, _ = c.response()
    if code != 101:
        fail("up101: %d" % code)
    got = c.buf
    c.s.settimeout(10)
    while True:
        d = c.s.recv(100)
        if not d:
            break
        got += d
    if got != b"bye":
        fail("up101: %r" % got)
    c.s.sendall(b"z" * 2000)
    c.s.shutdown(socket.SHUT_WR)
    closed(c)
    deadline = time.time() + 10
    while time.time() < deadline:
        s = Conn(port)
        s.send(req("GET", host_a, "/stats", "Connection: close\r\n"))
        n = json.loads(s.response()[2])["up101"]
        if n == 2000:
            break
        time.sleep(0.1)
    if n != 2000:
        fail("up101: the origin got %d of 2000 bytes after its half-close" % n)
    print("OK hostile", flush=True)


def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def slow(port, host, size, pid, rate=16):
    base = rss_kib(pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", port))
    c = Conn.__new__(Conn)
    c.s, c.buf = s, b""
    c.send(req("GET", host, "/blob/%d" % size))
    status = c.line()
    headers = {}
    while True:
        l = c.line()
        if not l:
            break
        k, v = l.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    h = hashlib.sha256(c.buf)
    got = len(c.buf)
    peak = 0
    start = time.time()
    while got < size:
        d = s.recv(16384)
        if not d:
            break
        h.update(d)
        got += len(d)
        # About 16 MiB/s: far slower than the relay and the origin can go.
        ahead = got / (rate << 20) - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
        if got % (1 << 20) < 16384:
            peak = max(peak, rss_kib(pid) - base)
    if got != size or h.hexdigest() != headers.get("x-sha256"):
        fail("slow download: %d of %d bytes, %s" % (got, size, status))
    print("OK %d %d" % (got, peak), flush=True)


if sys.argv[1] == "slow":
    slow(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]) if len(sys.argv) > 6 else 16)
elif sys.argv[1] == "hostile":
    hostile(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
elif sys.argv[1] == "idle":
    idle(int(sys.argv[2]), sys.argv[3])
elif sys.argv[1] == "count":
    count(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
elif sys.argv[1] == "keepalive":
    keepalive(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
else:
    upgrade(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
