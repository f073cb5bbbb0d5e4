#!/usr/bin/env bash
# HTTP requests/s through the relay and an agent for two builds, measured side by side in
# alternating rounds, so that this machine's drift (which moves sequential runs by 10-20%) falls
# on both alike. Use it to tell a regression from noise after bench/tunnel.sh.
#
#   A=/path/to/old/release B=/path/to/new/release bash bench/ab.sh
#   ROUNDS=6 SECS=10 A=… B=… bash bench/ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${A:?A= the release directory of the first build}" "${B:?B= the release directory of the second build}"
ROUNDS=${ROUNDS:-4}
SECS=${SECS:-5}
for t in wrk nginx python3; do command -v "$t" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; break; }; done
BIN=$A source bench/common.sh
NG=$base
start_nginx_page $NG

start() { # name bin agent-port public-port: a relay and one agent exposing nginx as bench.test
  local d="$work/$1"; mkdir -p "$d"
  "$2/tunnel-server" --state-dir "$d/state" --agent-addr 127.0.0.1:$3 --public-addr 127.0.0.1:$4 --max-public-conns-per-ip 0 >"$d/relay.log" 2>&1 & pids+=($!)
  for _ in $(seq 50); do [ -f "$d/state/agent-token" ] && grep -q "service=public" "$d/relay.log" && break; sleep 0.1; done
  local token pin
  token=$(cat "$d/state/agent-token"); pin=$(grep -o 'sha256 [0-9a-f]*' "$d/relay.log" | head -1 | cut -d' ' -f2)
  "$2/tunnel-agent" --relay 127.0.0.1:$3 --token "$token" --pin "$pin" --expose 127.0.0.1:$NG --hostname bench.test >"$d/agent.log" 2>&1 & pids+=($!)
}
start a "$A" $((base+1)) $((base+2))
start b "$B" $((base+3)) $((base+4))
sleep 3
rps() { wrk -t2 -c32 -d"${SECS}s" -H "Host: bench.test" "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
ra=(); rb=()
for _ in $(seq "$ROUNDS"); do ra+=("$(rps $((base+2)))"); rb+=("$(rps $((base+4)))"); done
python3 - "$ROUNDS" "${ra[@]}" "${rb[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1]); a = [float(x) for x in sys.argv[2:2 + n]]; b = [float(x) for x in sys.argv[2 + n:]]
print(f"HTTP req/s through relay + agent, wrk -t2 -c32, {n} alternating rounds")
print("| build | " + " | ".join(f"round {i + 1}" for i in range(n)) + " | median |")
print("|---|" + "---|" * (n + 1))
for name, v in (("A", a), ("B", b)):
    print(f"| {name} | " + " | ".join(f"{x:,.0f}" for x in v) + f" | {statistics.median(v):,.0f} |")
print(f"B / A (medians): {statistics.median(b) / statistics.median(a):.2f}")
PY
