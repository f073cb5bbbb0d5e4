#!/usr/bin/env python3
"""Sends N random bytes through HOST:PORT to an echo server, half-closes, reads everything back.
Prints "OK <sent> <received> <sha256>" when the echo is byte-exact, else "MISMATCH ..." (exit 1).
Optional SOCKS5/HTTP proxy step is not needed: the target is a forwarder port."""
import os, socket, sys
import echo_transfer

host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60
# Optional: an HTTP request head first (for a relay's HTTP entrypoint that routes by Host); the
# echo returns it with the rest, so it is part of what is checked.
http_host = sys.argv[5] if len(sys.argv) > 5 else None
data = os.urandom(size)
if http_host:
    data = ("POST / HTTP/1.1\r\nHost: %s\r\n\r\n" % http_host).encode() + data[: size - 64]


def on_error(e, received, writer_done):
    if isinstance(e, socket.timeout):
        print("TIMEOUT after receiving", received, "of", len(data), "bytes; writer done:", writer_done); sys.exit(1)


echo_transfer.run(host, port, data, timeout=timeout, on_error=on_error)
