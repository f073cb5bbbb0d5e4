#!/usr/bin/env bash
# The tunnel against direct and `ssh -R`, on loopback, in one run, printed as a table:
#   - one-stream and 8-stream throughput (iperf3) through an rtcp port of the relay;
#   - HTTP keep-alive requests/s and p99 latency (wrk, 32 connections, a small nginx page) through
#     the relay's HTTP entrypoint;
#   - RSS of relay and agent idle and with N concurrent tunneled connections.
#
#   bash bench/tunnel.sh                 # builds release binaries first
#   BIN=/path/to/release bash bench/tunnel.sh
#   SECS=10 REPS=5 CONNS="1000 10000" bash bench/tunnel.sh   (medians of REPS rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
CONNS=${CONNS:-"1000 10000"}
need=()
for t in iperf3 wrk nginx sshd ssh python3; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 wrk nginx-light openssh-server openssh-client >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  swift build -c release >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
ulimit -n 65536 || true
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
base=$((20000 + RANDOM % 20000))
P_IPERF=$base; P_NGINX=$((base+1)); P_AGENTS=$((base+2)); P_PUBLIC=$((base+3)); P_RT=$((base+4)); P_SSHD=$((base+5)); P_SSH_IPERF=$((base+6)); P_SSH_HTTP=$((base+7)); P_SINK=$((base+8)); P_RT_SINK=$((base+9))

# Peers: iperf3, nginx with a small page, and a sink that holds connections open.
iperf3 -s -B 127.0.0.1 -p $P_IPERF >/dev/null 2>&1 & pids+=($!)
mkdir -p "$work/www" && head -c 612 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$P_NGINX; root $work/www; } }
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
python3 - "$P_SINK" <<'PY' & pids+=($!)
import socket, sys, selectors
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4096); s.setblocking(False)
sel = selectors.DefaultSelector(); sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            c, _ = s.accept(); c.setblocking(False); sel.register(c, selectors.EVENT_READ)
        else:
            try: d = key.fileobj.recv(4096)
            except OSError: d = b""
            if not d: sel.unregister(key.fileobj); key.fileobj.close()
PY

# Our relay and two agents: one for iperf3 (rtcp) and nginx (hostname), one for the held connections.
"$BIN/tunnel-server" --state-dir "$work/state" --agent-addr 127.0.0.1:$P_AGENTS --public-addr 127.0.0.1:$P_PUBLIC --ports 1024-65535 >"$work/relay.log" 2>&1 & RELAY=$!; pids+=($RELAY)
for _ in $(seq 50); do [ -f "$work/state/agent-token" ] && grep -q "service listening.*service=public" "$work/relay.log" && break; sleep 0.1; done
TOKEN=$(cat "$work/state/agent-token"); PIN=$(grep -o 'sha256 [0-9a-f]*' "$work/relay.log" | head -1 | cut -d' ' -f2)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_IPERF --remote-port $P_RT >"$work/agent1.log" 2>&1 & pids+=($!)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_NGINX --hostname bench.test >"$work/agent2.log" 2>&1 & pids+=($!)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_SINK --remote-port $P_RT_SINK >"$work/agent3.log" 2>&1 & AGENT3=$!; pids+=($AGENT3)

# ssh -R on loopback, aes128-gcm, as the baseline to beat.
mkdir -p /run/sshd "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/user"
cp "$work/ssh/user.pub" "$work/ssh/authorized_keys"
cat > "$work/ssh/sshd_config" <<SSHD
Port $P_SSHD
ListenAddress 127.0.0.1
HostKey $work/ssh/host
AuthorizedKeysFile $work/ssh/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile $work/ssh/sshd.pid
Ciphers aes128-gcm@openssh.com
SSHD
/usr/sbin/sshd -f "$work/ssh/sshd_config" -D -e 2>"$work/sshd.log" & pids+=($!)
sleep 1
ssh -q -N -i "$work/ssh/user" -p $P_SSHD -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o Ciphers=aes128-gcm@openssh.com \
  -R $P_SSH_IPERF:127.0.0.1:$P_IPERF -R $P_SSH_HTTP:127.0.0.1:$P_NGINX root@127.0.0.1 & pids+=($!)
sleep 2

iperf() { # port parallel -> Gbit/s
  iperf3 -c 127.0.0.1 -p "$1" -P "$2" -t "$SECS" -J 2>/dev/null | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
wrkrun() { # url [host] -> "req/s p99ms"
  local hdr=(); [ -n "${2:-}" ] && hdr=(-H "Host: $2")
  wrk -t2 -c32 -d"${SECS}s" --latency "${hdr[@]}" "$1" 2>/dev/null | python3 -c '
import sys, re
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print("%.0f %.2f" % (float(rps), v))'
}
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.2f" % (a/b if b else 0))' "$1" "$2"; }

rss() { ps -o rss= -p "$1" | tr -d ' '; }
hold() { # n -> keeps n connections through the rtcp sink port open, prints RSS of relay and agent
  python3 - "$P_RT_SINK" "$1" "$RELAY" "$AGENT3" <<'PY'
import socket, sys, time, subprocess
port, n, relay, agent = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"x"); conns.append(c)
time.sleep(3)
rss = lambda p: int(subprocess.check_output(["ps", "-o", "rss=", "-p", p]).strip())
print(rss(relay), rss(agent))
for c in conns: c.close()
PY
}
# Memory first, while the relay's heap holds no buffers left over from bulk transfers (glibc keeps
# freed memory, which would hide what connections cost).
relay_idle=$(rss $RELAY); agent_idle=$(rss $AGENT3)
held=()
for n in $CONNS; do held+=("$n $(hold "$n")"); sleep 1; done

# Throughput and requests: REPS rounds, each measuring direct, tunnel and ssh -R back to back;
# the table shows medians.
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
D1=(); T1=(); S1=(); D8=(); T8=(); S8=(); DR=(); TR=(); SR=(); DP=(); TP=(); SP=()
for _ in $(seq "${REPS:-3}"); do
  D1+=("$(iperf $P_IPERF 1)"); T1+=("$(iperf $P_RT 1)"); S1+=("$(iperf $P_SSH_IPERF 1)")
  D8+=("$(iperf $P_IPERF 8)"); T8+=("$(iperf $P_RT 8)"); S8+=("$(iperf $P_SSH_IPERF 8)")
  read -r a b <<<"$(wrkrun http://127.0.0.1:$P_NGINX/)"; DR+=("$a"); DP+=("$b")
  read -r a b <<<"$(wrkrun http://127.0.0.1:$P_PUBLIC/ bench.test)"; TR+=("$a"); TP+=("$b")
  read -r a b <<<"$(wrkrun http://127.0.0.1:$P_SSH_HTTP/)"; SR+=("$a"); SP+=("$b")
done
d1=$(median "${D1[@]}"); t1=$(median "${T1[@]}"); s1=$(median "${S1[@]}")
d8=$(median "${D8[@]}"); t8=$(median "${T8[@]}"); s8=$(median "${S8[@]}")
dr=$(median "${DR[@]}" | cut -d. -f1); tr=$(median "${TR[@]}" | cut -d. -f1); sr=$(median "${SR[@]}" | cut -d. -f1)
dp=$(median "${DP[@]}"); tp=$(median "${TP[@]}"); sp=$(median "${SP[@]}")

echo
echo "Tunnel vs direct vs ssh -R (aes128-gcm), loopback, $(nproc) cores, ${SECS}s per run, median of ${REPS:-3} rounds"
echo
echo "| measure | direct | tunnel | ssh -R | tunnel / ssh -R |"
echo "|---|---|---|---|---|"
echo "| iperf3, 1 stream (Gbit/s) | $d1 | $t1 | $s1 | $(ratio $t1 $s1) |"
echo "| iperf3, 8 streams (Gbit/s) | $d8 | $t8 | $s8 | $(ratio $t8 $s8) |"
echo "| wrk 32 conns, 612 B page (req/s) | $dr | $tr | $sr | $(ratio $tr $sr) |"
echo "| wrk p99 latency (ms) | $dp | $tp | $sp | - |"
echo
echo "| RSS (KiB) | relay | agent | relay per conn | agent per conn |"
echo "|---|---|---|---|---|"
echo "| idle | $relay_idle | $agent_idle | - | - |"
for entry in "${held[@]}"; do
  read -r n r a <<<"$entry"
  echo "| $n connections | $r | $a | $(python3 -c "print('%.1f' % (($r-$relay_idle)/$n))") | $(python3 -c "print('%.1f' % (($a-$agent_idle)/$n))") |"
done
