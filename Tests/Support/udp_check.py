#!/usr/bin/env python3
"""Sends COUNT datagrams of varied sizes to HOST:PORT (a forward to a UDP echo) one at a time and
checks each reply is the same bytes. Prints "OK <count>" or "FAIL ..." (exit 1). Each wait is bounded."""
import os, socket, sys

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
ok = 0
for i in range(count):
    size = [1, 512, 1400, 4000, 9000][i % 5] + i % 7
    d = i.to_bytes(4, "big") + os.urandom(size)
    for attempt in range(3):
        s.sendto(d, (host, port))
        try:
            r, _ = s.recvfrom(65536)
        except socket.timeout:
            continue
        if r == d:
            ok += 1
            break
        print("FAIL corrupted datagram", i); sys.exit(1)
print("OK" if ok == count else "FAIL", ok)
sys.exit(0 if ok == count else 1)
