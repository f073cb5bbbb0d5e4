#!/usr/bin/env python3
"""Loopback echo servers for the end-to-end tests.

tcp: echoes every byte; on the client's half-close it finishes echoing, then closes its side.
udp: echoes every datagram to its sender.
Prints "PORT <n>" once listening. Exits after --lifetime seconds at most.
"""
import socket, sys, threading, time
import loopback

def tcp(lifetime):
    srv = loopback.listen()
    print("PORT", srv.getsockname()[1], flush=True)
    def serve(c):
        with c:
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
    loopback.serve(srv, serve, lifetime)

def udp(lifetime):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    print("PORT", s.getsockname()[1], flush=True)
    s.settimeout(0.5)
    end = time.time() + lifetime
    while time.time() < end:
        try:
            d, a = s.recvfrom(65536)
        except socket.timeout:
            continue
        s.sendto(d, a)

if __name__ == "__main__":
    kind = sys.argv[1]
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 300
    (tcp if kind == "tcp" else udp)(lifetime)
