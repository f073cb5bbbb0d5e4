#!/usr/bin/env bash
# A cluster's cost, on loopback, in one run, printed as a table: two relays sharing one etcd, one
# agent attached to relay 1 only, in front of nginx. Visitors at relay 1 take the local path;
# visitors at relay 2 are carried one hop over the relays' peer session. Measured, alternating
# rounds: wrk (32 keep-alive connections, a 612-byte page) req/s and p99, and one stream's
# throughput (curl downloading a 512 MiB file once). Then propagation: the time from an agent's
# registration at relay 1 (its first answered request there) to the first answered request for
# its hostname at relay 2, for 20 new agents, median.
# Targets (issue 16): cross-relay >= 70% of local in req/s and throughput, p99 <= 2x local,
# propagation <= 500 ms.
#
#   bash bench/cluster.sh                    # builds release binaries first
#   BIN=/path/to/release SECS=5 REPS=5 bash bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
REPS=${REPS:-3}
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
source bench/common.sh
P_NGINX=$base; P_ETCD=$((base+1)); P_ETCD_PEER=$((base+2))
start_nginx_page $P_NGINX
head -c $((512 << 20)) /dev/zero > "$work/www/big"

etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$P_ETCD" --advertise-client-urls "http://127.0.0.1:$P_ETCD" \
  --listen-peer-urls "http://127.0.0.1:$P_ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_ETCD_PEER" \
  --initial-cluster "bench=http://127.0.0.1:$P_ETCD_PEER" >"$work/etcd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P_ETCD/health" | grep -q true && break; sleep 0.1; done
openssl rand -hex 32 > "$work/cluster.key"

# relay NAME AGENT_PORT PUBLIC_PORT: a relay of the cluster; sets PID_<NAME>.
relay() {
  local name=$1 agents=$2 public=$3
  "$BIN/tunnel-server" --state-dir "$work/$name" --agent-addr 127.0.0.1:$agents --public-addr 127.0.0.1:$public \
    --etcd "http://127.0.0.1:$P_ETCD" --cluster-key-file "$work/cluster.key" --relay-id "$name" --peer-addr 127.0.0.1:0 \
    --max-public-conns-per-ip 0 >"$work/$name.log" 2>&1 & pids+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 100); do grep -q "service=public" "$work/$name.log" && break; sleep 0.1; done
}
A1=$((base+3)); PUB1=$((base+4)); A2=$((base+5)); PUB2=$((base+6))
relay one $A1 $PUB1
relay two $A2 $PUB2
TOKEN=$(cat "$work/one/agent-token")
PIN=$(grep -o 'sha256 [0-9a-f]\{64\}' "$work/one.log" | head -1 | cut -d' ' -f2)
"$BIN/tunnel-agent" --relay 127.0.0.1:$A1 --token "$TOKEN" --pin "$PIN" --hostname bench.test --expose 127.0.0.1:$P_NGINX >"$work/agent.log" 2>&1 & pids+=($!)
for p in $PUB1 $PUB2; do
  for _ in $(seq 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "http://127.0.0.1:$p/")" = 200 ] && break; sleep 0.05; done
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "http://127.0.0.1:$p/")" = 200 ] || { echo "port $p does not serve bench.test" >&2; tail -5 "$work"/*.log >&2; exit 1; }
done

wrkrun() { # port -> "req/s p99ms requests"
  wrk -t2 -c32 -d"${SECS}s" --latency -H "Host: bench.test" "http://127.0.0.1:$1/" 2>/dev/null | wrk_stats
}
stream() { # port -> MiB/s of one 512 MiB download
  curl -s -o /dev/null -w '%{size_download} %{speed_download}\n' -H "Host: bench.test" "http://127.0.0.1:$1/big" | python3 -c '
import sys
size, speed = sys.stdin.read().split()
if int(size) != 512 << 20: sys.exit("short download: %s bytes" % size)
print("%.0f" % (float(speed) / (1 << 20)))'
}

loc=(); loc99=(); hop=(); hop99=(); locs=(); hops=()
for _ in $(seq "$REPS"); do
  read -r r p _ <<<"$(wrkrun $PUB1)"; loc+=("$r"); loc99+=("$p")
  read -r r p _ <<<"$(wrkrun $PUB2)"; hop+=("$r"); hop99+=("$p")
  locs+=("$(stream $PUB1)"); hops+=("$(stream $PUB2)")
done

# Propagation: 20 new agents at relay 1, each with its own hostname; both relays asked in turn
# (every 2 ms) until each answers 200; the difference of the two first answers.
prop=()
for i in $(seq 20); do
  "$BIN/tunnel-agent" --relay 127.0.0.1:$A1 --token "$TOKEN" --pin "$PIN" --hostname "p$i.bench.test" --expose 127.0.0.1:$P_NGINX >"$work/p$i.log" 2>&1 &
  apid=$!
  ms=$(python3 - "$PUB1" "$PUB2" "p$i.bench.test" <<'PY'
import socket, sys, time
one, two, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def ok(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        head = s.recv(64)
        s.close()
        return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
first = {}
deadline = time.time() + 20
while len(first) < 2 and time.time() < deadline:
    for port in (one, two):
        if port not in first and ok(port):
            first[port] = time.time()
    time.sleep(0.002)
if len(first) < 2:
    sys.exit("not served at both relays within 20 s: %r" % first)
print("%.1f" % ((first[two] - first[one]) * 1000))
PY
)
  prop+=("$ms")
  kill $apid; wait $apid 2>/dev/null || true
done

lm=$(median "${loc[@]}"); hm=$(median "${hop[@]}")
l99=$(median "${loc99[@]}"); h99=$(median "${hop99[@]}")
ls=$(median "${locs[@]}"); hs=$(median "${hops[@]}")
echo
echo "A visitor at the agent's own relay vs at another relay (one hop), loopback, $(nproc) cores, wrk -c32, ${SECS}s per run, median of $REPS rounds"
echo
echo "| path | req/s | p99 ms | one stream MiB/s |"
echo "|---|---|---|---|"
echo "| local (relay 1) | ${lm%.*} | $l99 | ${ls%.*} |"
echo "| one hop (relay 2 -> relay 1) | ${hm%.*} | $h99 | ${hs%.*} |"
echo
echo "req/s hop/local: $(ratio "$hm" "$lm") (target >= 0.70); throughput: $(ratio "$hs" "$ls") (target >= 0.70); p99 hop/local: $(ratio "$h99" "$l99") (target <= 2)"
echo "propagation, registration at relay 1 to first answer at relay 2, median of 20: $(median "${prop[@]}") ms (target <= 500; all: ${prop[*]})"
