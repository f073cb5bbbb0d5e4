#!/usr/bin/env python3
"""Sends SIZE random bytes through HOST:PORT to an echo server, paced over about SECONDS, half-closes,
reads everything back. Prints "STARTED" once the first echoed bytes are back (the transfer is in
flight), then "OK <size> <received> <sha256>" when the echo is byte-exact, else a reason (exit 1)."""
import os, sys
import echo_transfer

host, port, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
echo_transfer.run(host, port, os.urandom(size), seconds=seconds, on_first=lambda: print("STARTED", flush=True))
