#!/usr/bin/env python3
"""SOCKS5 UDP ASSOCIATE clients (RFC 1928 §7) for a proxy at HOST:PORT. Each mode prints "OK ..."
or "FAIL <why>" (exit 1). Every socket has a timeout and every loop a bound.

  churn HOST PORT ECHO N   N associations one after another, each with one datagram to the UDP
                           echo at 127.0.0.1:ECHO and back, then closed (control connection and
                           UDP socket); every other one names its UDP address in the request
  impostor HOST PORT ECHO  the client names its UDP address in the request (127.0.0.1:P); another
                           socket of 127.0.0.1 sends through the relay first: the client still
                           gets its echoes, the impostor nothing. Then clients as behind NAT: the
                           request names 0.0.0.0 with another port, or a private address the
                           relay never sees: the datagrams from the control connection's IP work
  unsolicited HOST PORT    the client talks to a target of its own; a stranger sends to the
                           address the target saw and to the relay: only the target's replies
                           reach the client
  port0 HOST PORT ECHO     a datagram to port 0, then a normal one to the echo: it still comes
                           back, and the control connection stays open
"""
import socket, sys, time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])


def fail(why):
    print("FAIL", why)
    sys.exit(1)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        d = s.recv(n - len(data))
        if not d:
            raise RuntimeError(f"control connection closed after {len(data)} of {n} bytes")
        data += d
    return data


def associate(dst=("0.0.0.0", 0)):
    """Opens an association whose request names `dst`; returns the control socket and the relay."""
    c = socket.create_connection((host, port), timeout=5)
    c.sendall(b"\x05\x01\x00")
    if recv_exact(c, 2) != b"\x05\x00":
        fail("greeting refused")
    c.sendall(b"\x05\x03\x00\x01" + socket.inet_aton(dst[0]) + dst[1].to_bytes(2, "big"))
    reply = recv_exact(c, 4)
    if reply[1] != 0:
        fail(f"UDP ASSOCIATE refused with {reply[1]}")
    if reply[3] != 1:
        fail(f"relay address type {reply[3]}")
    rest = recv_exact(c, 6)
    relay_host = socket.inet_ntoa(rest[:4])
    if relay_host == "0.0.0.0":
        relay_host = host
    return c, (relay_host, int.from_bytes(rest[4:], "big"))


def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(1)
    return u


def wrap(target, payload):
    return b"\x00\x00\x00\x01" + socket.inet_aton(target[0]) + target[1].to_bytes(2, "big") + payload


def unwrap(datagram):
    if datagram[:4] != b"\x00\x00\x00\x01":
        fail(f"unexpected relay header {datagram[:4]!r}")
    return (socket.inet_ntoa(datagram[4:8]), int.from_bytes(datagram[8:10], "big")), datagram[10:]


def received(u, seconds=1.0):
    """Everything `u` receives within `seconds`, unwrapped when it came from the relay."""
    out = []
    end = time.time() + seconds
    while time.time() < end:
        u.settimeout(max(0.01, end - time.time()))
        try:
            d, _ = u.recvfrom(65536)
        except socket.timeout:
            break
        out.append(d)
    return out


def round_trip(u, relay, target, payload, attempts=3):
    """Sends `payload` to `target` through the relay until the same bytes come back from it."""
    for _ in range(attempts):
        u.sendto(wrap(target, payload), relay)
        end = time.time() + 1
        while time.time() < end:
            u.settimeout(max(0.01, end - time.time()))
            try:
                d, _ = u.recvfrom(65536)
            except socket.timeout:
                break
            source, data = unwrap(d)
            if source == target and data == payload:
                return True
    return False


if mode == "churn":
    echo, n = ("127.0.0.1", int(sys.argv[4])), int(sys.argv[5])
    deadline = time.time() + 120
    for i in range(n):
        if time.time() > deadline:
            fail(f"deadline after {i} associations")
        u = udp()
        c, relay = associate(u.getsockname() if i % 2 == 0 else ("0.0.0.0", 0))
        if not round_trip(u, relay, echo, b"churn %d" % i):
            fail(f"association {i}: no echo")
        u.close()
        c.close()
    print("OK", n)

elif mode == "impostor":
    echo = ("127.0.0.1", int(sys.argv[4]))
    for named in ("127.0.0.1",):
        u, impostor = udp(), udp()
        c, relay = associate((named, u.getsockname()[1]))
        impostor.sendto(wrap(echo, b"impostor first"), relay)
        time.sleep(0.2)
        if not round_trip(u, relay, echo, b"client " + named.encode()):
            fail(f"request naming {named}: the client's datagrams are not relayed after an impostor's")
        impostor.sendto(wrap(echo, b"impostor again"), relay)
        if not round_trip(u, relay, echo, b"client again"):
            fail(f"request naming {named}: the client lost the association to an impostor")
        got = received(impostor, 0.5)
        if got:
            fail(f"request naming {named}: the impostor received {got!r}")
        for s in (u, impostor, c):
            s.close()
    for named in (("0.0.0.0", 9), ("10.9.9.9", 40000)):
        u = udp()
        c, relay = associate(named)
        if not round_trip(u, relay, echo, b"behind NAT"):
            fail(f"request naming {named}: a client whose source the NAT changed is not relayed")
        u.close()
        c.close()
    print("OK impostor")

elif mode == "unsolicited":
    u, target, stranger = udp(), udp(), udp()
    c, relay = associate(u.getsockname())
    t = target.getsockname()
    u.sendto(wrap(t, b"hello"), relay)
    try:
        data, relay_out = target.recvfrom(65536)
    except socket.timeout:
        fail("the target got nothing")
    if data != b"hello":
        fail(f"the target got {data!r}")
    target.sendto(b"reply 1", relay_out)
    got = [unwrap(d) for d in received(u, 0.5)]
    if got != [(t, b"reply 1")]:
        fail(f"first reply: {got!r}")
    # The stranger knows both relay addresses and sends to each; neither may reach the client.
    stranger.sendto(b"spoof to the target's peer", relay_out)
    stranger.sendto(b"spoof to the relay", relay)
    stranger.sendto(wrap(t, b"spoof wrapped"), relay_out)
    time.sleep(0.2)
    target.sendto(b"reply 2", relay_out)
    got = [unwrap(d) for d in received(u, 1.0)]
    if got != [(t, b"reply 2")]:
        fail(f"after the stranger: {got!r}")
    print("OK unsolicited")

elif mode == "port0":
    echo = ("127.0.0.1", int(sys.argv[4]))
    u = udp()
    c, relay = associate()
    if not round_trip(u, relay, echo, b"before"):
        fail("no echo before the datagram to port 0")
    u.sendto(wrap(("127.0.0.1", 0), b"to port zero"), relay)
    time.sleep(0.3)
    if not round_trip(u, relay, echo, b"after"):
        fail("no echo after the datagram to port 0")
    c.settimeout(0.3)
    try:
        if c.recv(1) == b"":
            fail("the control connection was closed")
    except socket.timeout:
        pass
    print("OK port0")

else:
    fail(f"unknown mode {mode}")
