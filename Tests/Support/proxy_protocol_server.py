#!/usr/bin/env python3
"""An HTTP server behind a PROXY protocol v1/v2 header: answers each connection with 200 and, as the
body, what the header said (v1: the line; v2: "V2 <src ip> <src port> <dst ip> <dst port>").
Prints "PORT <n>". Exits after 300 s at most."""
import socket, struct, threading, time
import loopback

srv = loopback.listen()
print("PORT", srv.getsockname()[1], flush=True)
SIG = b"\r\n\r\n\x00\r\nQUIT\n"

def serve(c):
    with c:
        c.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data.split(b"\n", 1)[-1] and len(data) < 65536:
            d = c.recv(4096)
            if not d: break
            data += d
            if data.startswith(SIG) and len(data) >= 16:
                n = struct.unpack("!H", data[14:16])[0]
                if len(data) >= 16 + n and b"\r\n\r\n" in data[16 + n:]: break
            elif data.startswith(b"PROXY") and b"\r\n\r\n" in data: break
        if data.startswith(SIG):
            fam = data[13]; n = struct.unpack("!H", data[14:16])[0]; body = data[16:16 + n]
            if fam == 0x11:
                s, d = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
                sp, dp = struct.unpack("!HH", body[8:12])
                said = "V2 %s %d %s %d" % (s, sp, d, dp)
            else:
                said = "V2 family %d" % fam
        else:
            said = data.split(b"\r\n", 1)[0].decode()
        body = (said + "\n").encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

loopback.serve(srv, serve)
