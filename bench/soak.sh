#!/usr/bin/env bash
# Soak of the relay's public side under abuse (not in CI): for DURATION seconds (default 1800) it
# runs, in parallel, one-request-per-connection churn, slowloris dribblers (a byte every 0.5 s),
# half heads with FIN, requests sent with FIN, and keep-alive visitors, all against one relay and
# one agent on loopback; then prints the relay's and the agent's RSS and open fds before and after
# as a table. Flat is what it should show: after the load stops and the timeouts pass, RSS within
# allocator noise and fds back to the baseline.
#
#   bash bench/soak.sh                  # builds release binaries first
#   DURATION=300 BIN=/path/to/release bash bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-1800}
source bench/common.sh
P_ORIGIN=$base; P_AGENTS=$((base+1)); P_PUBLIC=$((base+2))

mkdir -p "$work/www" && echo "soak page" > "$work/www/index.html"
python3 -m http.server $P_ORIGIN --bind 127.0.0.1 -d "$work/www" >/dev/null 2>&1 & pids+=($!)
"$BIN/tunnel-server" --state-dir "$work/state" --agent-addr 127.0.0.1:$P_AGENTS --public-addr 127.0.0.1:$P_PUBLIC \
  --http-head-timeout 5s --max-public-conns-per-ip 0 >"$work/relay.log" 2>&1 & RELAY=$!; pids+=($RELAY)
for _ in $(seq 100); do [ -f "$work/state/agent-token" ] && grep -q "service=public" "$work/relay.log" && break; sleep 0.1; done
TOKEN=$(cat "$work/state/agent-token"); PIN=$(grep -o 'sha256 [0-9a-f]*' "$work/relay.log" | head -1 | cut -d' ' -f2)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_ORIGIN --hostname soak.example.com >"$work/agent.log" 2>&1 & AGENT=$!; pids+=($AGENT)
for _ in $(seq 100); do grep -q "connected to relay" "$work/agent.log" && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
# Warm-up, so the baseline includes the allocator's steady state.
python3 Tests/Support/public_abuse.py churn $P_PUBLIC soak.example.com 2000 $RELAY >/dev/null
sleep 2
before=("$(rss $RELAY)" "$(fds $RELAY)" "$(rss $AGENT)" "$(fds $AGENT)")

end=$(( $(date +%s) + DURATION ))
rounds=0; failures=0
while [ "$(date +%s)" -lt "$end" ]; do
  python3 Tests/Support/public_abuse.py churn $P_PUBLIC soak.example.com 5000 $RELAY >"$work/churn.out" 2>&1 & c=$!
  dribblers=()
  for _ in 1 2 3 4; do python3 Tests/Support/public_abuse.py dribble $P_PUBLIC soak.example.com 20 >/dev/null 2>&1 & dribblers+=($!); done
  python3 Tests/Support/public_abuse.py finhead $P_PUBLIC >/dev/null 2>&1 || failures=$((failures+1))
  python3 Tests/Support/public_abuse.py finrequest $P_PUBLIC soak.example.com 200 >/dev/null 2>&1 || failures=$((failures+1))
  wait $c || failures=$((failures+1))
  # Only this round's clients: a bare `wait` would wait for the relay too.
  for d in "${dribblers[@]}"; do wait "$d" || failures=$((failures+1)); done
  rounds=$((rounds+1))
done
# Let every timeout pass (head 5 s, idle 75 s is not reached: nothing idles) and settle.
sleep 10
after=("$(rss $RELAY)" "$(fds $RELAY)" "$(rss $AGENT)" "$(fds $AGENT)")

printf '\nsoak: %d s, %d rounds (5,000 one-request connections, 4 dribblers, 1 half head + FIN, 200 requests with FIN each), %d failed steps\n\n' "$DURATION" "$rounds" "$failures"
printf '| measure | before | after | change |\n|---|---|---|---|\n'
names=("relay RSS (KiB)" "relay open fds" "agent RSS (KiB)" "agent open fds")
for i in 0 1 2 3; do printf '| %s | %s | %s | %+d |\n' "${names[$i]}" "${before[$i]}" "${after[$i]}" $(( after[i] - before[i] )); done
