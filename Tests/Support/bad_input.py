#!/usr/bin/env python3
"""Hostile clients for a proxy port. Each mode prints one line describing what the server did.
  garbage HOST PORT        random bytes, then reads until close (bounded)
  bigheader HOST PORT      an HTTP request whose headers exceed 64 KiB; prints the status line
  socks5bind HOST PORT     SOCKS5 greeting then the BIND command; prints the reply code
  socks5atyp HOST PORT     SOCKS5 CONNECT with address type 9; prints the reply code
  socks5muxbind HOST PORT BINDPORT  SOCKS5 greeting, the private mux-bind (0xF1) of BINDPORT, then
                           garbage instead of a Mux session; prints the reply code and how it ended
"""
import os, socket, sys

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.create_connection((host, port), timeout=10)

def read_all(limit=1 << 20):
    out = b""
    try:
        while len(out) < limit:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    return out

if mode == "garbage":
    try:
        s.sendall(os.urandom(4096))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print("CLOSED", len(read_all()))
elif mode == "bigheader":
    req = b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print("STATUS", read_all().split(b"\r\n")[0].decode(errors="replace"))
elif mode in ("socks5bind", "socks5atyp"):
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    if mode == "socks5bind":
        s.sendall(b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50")
    else:
        s.sendall(b"\x05\x01\x00\x09\x7f\x00\x00\x01\x00\x50")
    r = read_all()
    print("REPLY", r[1] if len(r) > 1 else -1)
elif mode == "socks5muxbind":
    bind_port = int(sys.argv[4])
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\xf1\x00\x01\x00\x00\x00\x00" + bind_port.to_bytes(2, "big"))
    r = b""
    while len(r) < 10:
        d = s.recv(10 - len(r))
        if not d:
            break
        r += d
    print("REPLY", r[1] if len(r) > 1 else -1)
    try:
        s.sendall(os.urandom(4096))
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(5)
    n = 0
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            n += len(d)
        print("CLOSED", n)
    except socket.timeout:
        print("STILL OPEN", n)
    except ConnectionResetError:
        print("CLOSED", n)
