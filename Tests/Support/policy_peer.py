#!/usr/bin/env python3
"""A visitor of a relay port from a chosen loopback source address, for the visitor-policy tests.

tcp PORT SRC: connects to 127.0.0.1:PORT from SRC, sends "ping", prints "OK" when "ping" comes
              back, "CLOSED" when the relay closes without an answer.
udp PORT SRC: sends one datagram to 127.0.0.1:PORT from SRC, prints "OK" for the echo, "NOREPLY"
              when none comes within 1.5 s (tries 3 times).
http PORT SRC HOST PREFIX: sends PREFIX (a PROXY protocol line, `\\r\\n` written as such; empty:
              none) then `GET /info` for HOST from SRC; prints the status code and the body.
limit PORT SRC: holds one TCP connection (echo checked), opens a second (prints its fate: OK or
              CLOSED), closes the first, opens a third: prints the three outcomes on one line.
Every wait is bounded."""
import socket, sys

mode, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def echo_once(c):
    try:
        c.sendall(b"ping")
        got = b""
        while len(got) < 4:
            d = c.recv(16)
            if not d:
                break
            got += d
        return "OK" if got == b"ping" else "CLOSED"
    except (ConnectionResetError, socket.timeout, BrokenPipeError):
        return "CLOSED"

if mode == "limit":
    import time
    a = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
    first = echo_once(a)
    b = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
    second = echo_once(b)
    b.close(); a.close()
    time.sleep(0.5)
    c = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
    print(first, second, echo_once(c))
elif mode == "http":
    host, prefix = sys.argv[4], sys.argv[5].replace("\\r\\n", "\r\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
    s.sendall(prefix.encode() + b"GET /info HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    got = b""
    try:
        while len(got) < 1 << 20:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        pass
    line = got.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split(" ")
    print(parts[1] if len(parts) > 1 else "NONE")
    print(got.split(b"\r\n\r\n", 1)[-1].decode(errors="replace"))
elif mode == "tcp":
    print(echo_once(socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(1.5)
    for _ in range(3):
        s.sendto(b"ping", ("127.0.0.1", port))
        try:
            d, _ = s.recvfrom(64)
            if d == b"ping":
                print("OK")
                sys.exit(0)
        except socket.timeout:
            pass
    print("NOREPLY")
