#!/usr/bin/env bash
# Operations' cost on the HTTP path, on loopback, in one run, printed as a table: wrk (32
# keep-alive connections, a 612-byte nginx page) through two relays, each with its own agent in
# front of the same nginx: one plain, one with Prometheus metrics (-metrics) and the admin API
# (-api, which turns the request inspector on), alternating rounds between them. Then the
# inspector ring's memory: the relay's RSS (VmRSS) after as many requests with
# --inspect-requests 100 as with 1000, to show the ring is bounded as configured.
# Target (issue 15): metrics + inspector req/s within 5% of plain (ratio >= 0.95).
#
#   bash bench/operations.sh                 # builds release binaries first
#   BIN=/path/to/release SECS=5 REPS=5 REQS=200000 bash bench/operations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
REPS=${REPS:-3}
REQS=${REQS:-200000}
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
source bench/common.sh
P_NGINX=$base

start_nginx_page $P_NGINX

# relay NAME AGENT_PORT [flags...]: a relay on embedded defaults and one agent for bench.test;
# sets PUBLIC_<NAME> and PID_<NAME>.
relay() {
  local name=$1 agents=$2; shift 2
  mkdir -p "$work/$name"
  "$BIN/tunnel-server" --state-dir "$work/$name" --agent-addr 127.0.0.1:$agents --public-addr 127.0.0.1:0 "$@" >"$work/$name.log" 2>&1 & pids+=($!)
  local pid=$!
  for _ in $(seq 100); do grep -q "service=public" "$work/$name.log" && grep -q "sha256 " "$work/$name.log" && break; sleep 0.1; done
  local public pin
  public=$(grep -o 'address=[^ ]*:[0-9]* .*service=public ' "$work/$name.log" | head -1 | sed 's/address=[^ ]*:\([0-9]*\) .*/\1/')
  pin=$(grep -o 'sha256 [0-9a-f]\{64\}' "$work/$name.log" | head -1 | cut -d' ' -f2)
  : > "$work/$name-agent.log"
  "$BIN/tunnel-agent" --relay 127.0.0.1:$agents --token "$(cat "$work/$name/agent-token")" --pin "$pin" \
    --hostname bench.test --expose 127.0.0.1:$P_NGINX >"$work/$name-agent.log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do grep -q "connected to relay" "$work/$name-agent.log" && break; sleep 0.1; done
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "http://127.0.0.1:$public/")
  [ "$code" = 200 ] || { echo "relay $name answered $code" >&2; tail -5 "$work/$name.log" "$work/$name-agent.log" >&2; exit 1; }
  eval "PUBLIC_$name=$public PID_$name=$pid"
}
relay plain $((base+1))
relay ops $((base+2)) -metrics 127.0.0.1:$((base+3)) -api 127.0.0.1:$((base+4)) --inspect-requests 100
curl -sf "http://127.0.0.1:$((base+3))/metrics" | grep -q '^tunnel_http_requests_total' || { echo "no metrics from the ops relay" >&2; exit 1; }

wrkrun() { # port [secs] -> "req/s p99ms requests"
  wrk -t2 -c32 -d"${2:-$SECS}s" --latency -H "Host: bench.test" "http://127.0.0.1:$1/" 2>/dev/null | wrk_stats
}
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
# drive PORT: wrk rounds until REQS requests went through (at most 40 rounds).
drive() {
  local total=0 r p n
  for _ in $(seq 40); do
    read -r r p n <<<"$(wrkrun "$1" 5)"; total=$((total + n))
    [ "$total" -ge "$REQS" ] && break
  done
  echo "$total"
}

plain=(); plain99=(); ops=(); ops99=()
for _ in $(seq "$REPS"); do
  read -r r p n <<<"$(wrkrun "$PUBLIC_plain")"; plain+=("$r"); plain99+=("$p")
  read -r r p n <<<"$(wrkrun "$PUBLIC_ops")"; ops+=("$r"); ops99+=("$p")
done
pm=$(median "${plain[@]}"); om=$(median "${ops[@]}")
kept=$(curl -sf "http://127.0.0.1:$((base+4))/api/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))' 2>/dev/null || echo "?")

# The ring: the ops relay (100 per tunnel, already driven) vs a third one keeping 1000.
relay ring $((base+5)) -metrics 127.0.0.1:$((base+6)) -api 127.0.0.1:$((base+7)) --inspect-requests 1000
rss_ring_start=$(rss "$PID_ring")
n100=$(drive "$PUBLIC_ops"); rss100=$(rss "$PID_ops")
n1000=$(drive "$PUBLIC_ring"); rss1000=$(rss "$PID_ring")
rss_plain=$(rss "$PID_plain")

echo
echo "Metrics and the request inspector on the HTTP path, loopback, $(nproc) cores, wrk -c32, ${SECS}s per run, median of $REPS rounds"
echo
echo "| relay | req/s | p99 ms |"
echo "|---|---|---|"
echo "| plain | ${pm%.*} | $(median "${plain99[@]}") |"
echo "| -metrics + -api (inspector, 100 per tunnel) | ${om%.*} | $(median "${ops99[@]}") |"
echo
echo "metrics+inspector / plain: $(ratio "$om" "$pm") (target >= 0.95); the inspector kept $kept requests"
echo
echo "| relay | requests through it | VmRSS MiB |"
echo "|---|---|---|"
echo "| plain | (the rounds above) | $rss_plain |"
echo "| --inspect-requests 100 | $n100 (and the rounds above) | $rss100 |"
echo "| --inspect-requests 1000 (at start: $rss_ring_start) | $n1000 | $rss1000 |"
