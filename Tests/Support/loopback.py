"""Shared by the Python test servers: a bounded accept loop on a loopback socket."""
import socket, threading, time


def listen(kind=socket.SOCK_STREAM, backlog=64):
    """A socket bound to a free loopback port (listening, for TCP)."""
    srv = socket.socket(socket.AF_INET, kind)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        srv.listen(backlog)
    return srv


def serve(srv, handle, lifetime=300):
    """Accepts connections for at most `lifetime` seconds, each handled on its own thread."""
    srv.settimeout(0.5)
    end = time.time() + lifetime
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()
