#!/usr/bin/env python3
"""The UDP-injection probe: a UDP client talks to a relay rudp port UDP_PORT (an echo behind an
agent) while an attacker, who only reaches the agent port AGENT_PORT over TLS, sends the Mux
preface and DATAGRAM frames naming flows 1..64 (docs/mux.md §5) with a forged payload, without
ever registering. The client must get its echoes and never the forged bytes.
Prints "OK <echoes>" or "FAIL <reason>" (exit 1). Every wait is bounded."""
import socket, ssl, struct, sys, time

host, agent_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FORGED = b"FORGED-REPLY"

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.settimeout(2)


def echo(payload):
    for _ in range(3):
        client.sendto(payload, (host, udp_port))
        try:
            data, _ = client.recvfrom(65536)
        except socket.timeout:
            continue
        return data
    return None


if echo(b"first") != b"first":
    print("FAIL no echo before the attack"); sys.exit(1)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection((host, agent_port), timeout=5)
attacker = ctx.wrap_socket(raw, server_hostname="localhost")
frames = b"TMUX" + bytes([1, 0, 0, 0]) + struct.pack(">I", 65536)
for flow in range(1, 65):
    payload = struct.pack(">H", udp_port) + FORGED
    frames += struct.pack(">I", len(payload))[1:] + bytes([0x07, 0x00]) + struct.pack(">I", flow) + payload
attacker.sendall(frames)

deadline = time.time() + 1.5
client.settimeout(0.2)
while time.time() < deadline:
    try:
        data, _ = client.recvfrom(65536)
    except socket.timeout:
        continue
    if FORGED in data:
        print("FAIL the client received a forged datagram"); sys.exit(1)
client.settimeout(2)
if echo(b"after") != b"after":
    print("FAIL no echo after the attack"); sys.exit(1)
print("OK 2")
