#!/usr/bin/env python3
"""An HTTP/1.1 origin for the relay's HTTP entrypoint tests (keep-alive, chunked, upgrade).

GET  /info          JSON: this origin's name, the Host, X-Forwarded-For/-Proto it received, the
                    client's port (which connection carried the request), every header (lowercased
                    names); any other path under /api/ or /p/ answers the same
GET  /count         JSON: how many requests this origin answered (itself not counted)
HEAD /info          the same head, no body
GET  /blob/N        N deterministic bytes, Content-Length, header X-Sha256 (8 MiB and more: written
                    in 256 KiB slices, /stats "blob_sent" says how many went out so far)
GET  /chunked/N     the same bytes in chunks of varied sizes (Transfer-Encoding: chunked)
GET  /close         a small page with Connection: close, then the origin closes
POST /sha           JSON: name, length and SHA-256 of the body (Content-Length or chunked)
GET  /upgrade       with Upgrade: echo → 101, then echoes raw bytes until the client half-closes
GET  /up101         with Upgrade: bye → 101, "bye", half-closes, counts what the client still sends
GET  /stats         JSON: what /up101 counted
GET  /inject        an answer followed by a second, unasked-for answer (a hostile origin)
POST /early         401 at once, without reading the body, then closes
GET  /ws            a WebSocket (RFC 6455) that echoes every message, until a close frame
GET  /sse           server-sent events: "one" at once, "two" once /sse-ack was asked (10 s at most)
GET  /sse-ack       lets /sse go on; /stats then says whether the ack came before "two"
Prints "PORT <n>" once listening; exits after LIFETIME seconds at most.
"""
import base64, hashlib, json, random, socket, struct, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name = sys.argv[1]
lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 300
stats = {"up101": -1, "sse_acked": None}
answered = [0]
count_lock = threading.Lock()
sse_ack = threading.Event()


def blob(n):
    return random.Random(n).randbytes(n)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Heads and bodies go out in separate writes: without TCP_NODELAY the second waits for the
    # peer's delayed ACK (40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_body(self, body, ctype="application/json", extra=None, head_only=False):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def info(self):
        return json.dumps({
            "name": name, "host": self.headers.get("Host"), "path": self.path,
            "xff": self.headers.get("X-Forwarded-For"), "xfp": self.headers.get("X-Forwarded-Proto"),
            "peer": self.client_address[1],
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }).encode()

    def do_HEAD(self):
        self.send_body(self.info(), head_only=True)

    def do_GET(self):
        if self.path != "/count":
            with count_lock:
                answered[0] += 1
        if self.path == "/count":
            self.send_body(json.dumps({"count": answered[0]}).encode())
        elif self.path == "/info" or self.path.startswith("/api/") or self.path.startswith("/p/"):
            self.send_body(self.info())
        elif self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
        elif self.path == "/sse":
            sse_ack.clear()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, word in enumerate(["one", "two"]):
                if i == 1:
                    stats["sse_acked"] = sse_ack.wait(10)
                event = b"data: %s\n\n" % word.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/sse-ack":
            sse_ack.set()
            self.send_body(b"acked", "text/plain")
        elif self.path == "/stats":
            self.send_body(json.dumps(stats).encode())
        elif self.path == "/inject":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nA-inject-ok"
                             b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED")
        elif self.path == "/up101" and self.headers.get("Upgrade") == "bye":
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: bye\r\n\r\nbye")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
            n = 0
            while True:
                d = self.rfile.read1(1 << 16)
                if not d:
                    break
                n += len(d)
            stats["up101"] = n
        elif self.path.startswith("/blob/"):
            data = blob(int(self.path[6:]))
            if len(data) < 8 << 20:
                self.send_body(data, "application/octet-stream", {"X-Sha256": hashlib.sha256(data).hexdigest()})
                return
            # A big one goes out in slices, counted: how far a stalled reader let it get.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Sha256", hashlib.sha256(data).hexdigest())
            self.end_headers()
            stats["blob_sent"] = 0
            for i in range(0, len(data), 1 << 18):
                self.wfile.write(data[i:i + (1 << 18)])
                stats["blob_sent"] = i + len(data[i:i + (1 << 18)])
        elif self.path.startswith("/chunked/"):
            data = blob(int(self.path[9:]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Sha256", hashlib.sha256(data).hexdigest())
            self.end_headers()
            rng = random.Random(7)
            i = 0
            while i < len(data):
                n = rng.choice([1, 7, 100, 4096, 65536, 200000])
                part = data[i:i + n]
                self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
                i += n
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif self.path == "/close":
            self.close_connection = True
            body = b"closing"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/upgrade" and self.headers.get("Upgrade") == "echo":
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "echo")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            conn = self.connection
            # read1 hands over what the server's reader buffered first, then reads the socket.
            while True:
                d = self.rfile.read1(1 << 16)
                if not d:
                    break
                conn.sendall(d)
            conn.shutdown(socket.SHUT_WR)
        else:
            self.send_error(404)

    def websocket(self):
        accept = base64.b64encode(hashlib.sha1(self.headers["Sec-WebSocket-Key"].encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
            if opcode == 8:
                self.wfile.write(b"\x88\x00")
                self.wfile.flush()
                return
            if n < 126:
                frame = bytes([0x80 | opcode, n])
            elif n < 65536:
                frame = bytes([0x80 | opcode, 126]) + struct.pack("!H", n)
            else:
                frame = bytes([0x80 | opcode, 127]) + struct.pack("!Q", n)
            self.wfile.write(frame + payload)
            self.wfile.flush()

    def do_POST(self):
        if self.path == "/early":
            self.close_connection = True
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 1 << 16))
                    h.update(d)
                    n += len(d)
                    left -= len(d)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                d = self.rfile.read(min(left, 1 << 16))
                if not d:
                    break
                h.update(d)
                n += len(d)
                left -= len(d)
        self.send_body(json.dumps({"name": name, "length": n, "sha256": h.hexdigest()}).encode())


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
print("PORT", srv.server_address[1], flush=True)
threading.Timer(lifetime, lambda: __import__("os")._exit(0)).start()
srv.serve_forever()
