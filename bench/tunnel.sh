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
for t in iperf3 wrk nginx sshd ssh socat python3; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 wrk nginx-light openssh-server openssh-client socat >/dev/null
fi
source bench/common.sh
P_IPERF=$base; P_NGINX=$((base+1)); P_AGENTS=$((base+2)); P_PUBLIC=$((base+3)); P_RT=$((base+4)); P_SSHD=$((base+5)); P_SSH_IPERF=$((base+6)); P_SSH_HTTP=$((base+7)); P_SINK=$((base+8)); P_RT_SINK=$((base+9)); P_SOCAT_IPERF=$((base+10)); P_SOCAT_HTTP=$((base+11))

# Peers: iperf3, nginx with a small page, and a sink that holds connections open.
iperf3 -s -B 127.0.0.1 -p $P_IPERF >/dev/null 2>&1 & pids+=($!)
start_nginx_page $P_NGINX
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
"$BIN/tunnel-server" --state-dir "$work/state" --agent-addr 127.0.0.1:$P_AGENTS --public-addr 127.0.0.1:$P_PUBLIC --ports 1024-65535 --max-public-conns-per-ip 0 >"$work/relay.log" 2>&1 & RELAY=$!; pids+=($RELAY)
for _ in $(seq 50); do [ -f "$work/state/agent-token" ] && grep -q "service listening.*service=public" "$work/relay.log" && break; sleep 0.1; done
TOKEN=$(cat "$work/state/agent-token"); PIN=$(grep -o 'sha256 [0-9a-f]*' "$work/relay.log" | head -1 | cut -d' ' -f2)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_IPERF --remote-port $P_RT >"$work/agent1.log" 2>&1 & pids+=($!); echo $! >"$work/agent1.pid"
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_NGINX --hostname bench.test >"$work/agent2.log" 2>&1 & pids+=($!); echo $! >"$work/agent2.pid"
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_SINK --remote-port $P_RT_SINK >"$work/agent3.log" 2>&1 & AGENT3=$!; pids+=($AGENT3)

# ssh -R on loopback, aes128-gcm, as the baseline to beat.
start_sshd $P_SSHD
ssh_r -R $P_SSH_IPERF:127.0.0.1:$P_IPERF -R $P_SSH_HTTP:127.0.0.1:$P_NGINX
SSH=$!
# socat, a plain (unencrypted) TCP forwarder forking a process per connection: the other baseline.
socat TCP-LISTEN:$P_SOCAT_IPERF,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:$P_IPERF 2>/dev/null & SOCAT1=$!; pids+=($SOCAT1)
socat TCP-LISTEN:$P_SOCAT_HTTP,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:$P_NGINX 2>/dev/null & SOCAT2=$!; pids+=($SOCAT2)
sleep 2
SSHD_LISTENER=$(cat "$work/ssh/sshd.pid")

# CPU used by a side of the comparison, in ticks of 1/100 s: user + system, plus that of reaped
# children (socat's per-connection processes).
ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat"))); done; echo $t; }
tunnel_pids() { echo "$RELAY" "$(cat "$work/agent1.pid")" "$(cat "$work/agent2.pid")"; }
ssh_pids() { echo "$SSH" $(pgrep -x sshd | grep -vx "$SSHD_LISTENER"); }
socat_pids() { echo "$SOCAT1" "$SOCAT2"; }

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

# Throughput and requests: REPS rounds, each measuring direct, tunnel, ssh -R and socat back to
# back; the tables show medians. Each run also records the CPU the forwarding side used (tunnel:
# relay + agents; ssh -R: sshd's session processes + ssh; socat: its processes), per GB moved or
# per request, since on one machine the endpoints (iperf3, wrk, nginx) share the cores with it.
declare -A R
measure() { # key kind port side [host]: appends "value cpu-per-unit" to R[key]
  local key=$1 kind=$2 port=$3 side=$4 host=${5:-} t0 t1 out
  t0=$(ticks $(${side}_pids 2>/dev/null || true))
  if [ "$kind" = wrk ]; then out=$(wrkrun "http://127.0.0.1:$port/" "$host"); else out="$(iperf "$port" "$kind") 0"; fi
  sleep 0.3
  t1=$(ticks $(${side}_pids 2>/dev/null || true))
  R[$key]+="$(python3 -c '
import sys
kind, secs, out, dt = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(), int(sys.argv[4])
v = float(out[0])
if kind == "wrk":  # value: req/s; cost: CPU us per request; extra: p99 ms
    print("%s|%.1f|%s" % (out[0], dt * 10000.0 / (v * secs), out[1]), end=" ")
else:              # value: Gbit/s; cost: CPU ms per GB
    print("%s|%.0f|-" % (out[0], dt * 10.0 / (v * secs / 8)), end=" ")
' "$kind" "$SECS" "$out" "$((t1 - t0))")"
}
for _ in $(seq "${REPS:-3}"); do
  for k in 1 8; do
    measure "d$k" "$k" $P_IPERF none; measure "t$k" "$k" $P_RT tunnel
    measure "s$k" "$k" $P_SSH_IPERF ssh; measure "c$k" "$k" $P_SOCAT_IPERF socat
  done
  measure dr wrk $P_NGINX none; measure tr wrk $P_PUBLIC tunnel bench.test
  measure sr wrk $P_SSH_HTTP ssh; measure cr wrk $P_SOCAT_HTTP socat
done
col() { # key field(1 value, 2 cost, 3 p99) -> median
  local xs=(); for e in ${R[$1]}; do xs+=("$(echo "$e" | cut -d'|' -f"$2")"); done; median "${xs[@]}"
}
int() { echo "${1%.*}"; }

echo
echo "Tunnel vs direct vs ssh -R (aes128-gcm) vs socat (plain TCP), loopback, $(nproc) cores, ${SECS}s per run, median of ${REPS:-3} rounds"
echo
echo "| measure | direct | tunnel | ssh -R | socat | tunnel / ssh -R | tunnel / socat |"
echo "|---|---|---|---|---|---|---|"
for k in 1 8; do
  d=$(col d$k 1); t=$(col t$k 1); s=$(col s$k 1); c=$(col c$k 1)
  echo "| iperf3, $k stream$([ $k = 1 ] || echo s) (Gbit/s) | $d | $t | $s | $c | $(ratio $t $s) | $(ratio $t $c) |"
done
d=$(col dr 1); t=$(col tr 1); s=$(col sr 1); c=$(col cr 1)
echo "| wrk 32 conns, 612 B page (req/s) | $(int $d) | $(int $t) | $(int $s) | $(int $c) | $(ratio $t $s) | $(ratio $t $c) |"
echo "| wrk p99 latency (ms) | $(col dr 3) | $(col tr 3) | $(col sr 3) | $(col cr 3) | - | - |"
echo
echo "CPU used by the forwarding side (the endpoints excluded); lower is better"
echo
echo "| measure | tunnel (relay + agent) | ssh -R (sshd + ssh) | socat | ssh -R / tunnel |"
echo "|---|---|---|---|---|"
for k in 1 8; do
  t=$(col t$k 2); s=$(col s$k 2); c=$(col c$k 2)
  echo "| iperf3, $k stream$([ $k = 1 ] || echo s) (CPU ms per GB) | $(int $t) | $(int $s) | $(int $c) | $(ratio $s $t) |"
done
t=$(col tr 2); s=$(col sr 2); c=$(col cr 2)
echo "| wrk (CPU µs per request) | $t | $s | $c | $(ratio $s $t) |"
echo
echo "| RSS (KiB) | relay | agent | relay per conn | agent per conn |"
echo "|---|---|---|---|---|"
echo "| idle | $relay_idle | $agent_idle | - | - |"
for entry in "${held[@]}"; do
  read -r n r a <<<"$entry"
  echo "| $n connections | $r | $a | $(python3 -c "print('%.1f' % (($r-$relay_idle)/$n))") | $(python3 -c "print('%.1f' % (($a-$agent_idle)/$n))") |"
done
