#!/usr/bin/env bash
# Visitor policy's cost on the HTTP path, on loopback, in one run, printed as a table: wrk (32
# keep-alive connections, a 612-byte nginx page) through the relay's HTTP entrypoint to one agent,
# alternating between a host whose rule has no policy and one whose rule carries basic auth (a
# bcrypt hash, cost 10, as `htpasswd -nbB` makes it), an IP allow list and header rewriting
# (hostHeaderRewrite, request headers set/removed, a response header set).
# Target (issue 14): policy req/s within 10% of no-policy req/s (ratio >= 0.90).
#
#   bash bench/policy.sh                 # builds release binaries first
#   BIN=/path/to/release SECS=10 REPS=5 bash bench/policy.sh   (medians of REPS rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
need=()
for t in wrk nginx htpasswd python3; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light apache2-utils >/dev/null
fi
source bench/common.sh
P_NGINX=$base; P_AGENTS=$((base+1))

start_nginx_page $P_NGINX

HASH=$(htpasswd -nbB bench 'bench-password' | cut -d: -f2-)
cat > "$work/relay.yaml" <<YAML
services:
- name: agents
  addr: 127.0.0.1:$P_AGENTS
  handler:
    type: tunnel
    metadata: {entrypoint: "127.0.0.1:0", ingress: main}
  listener: {type: tls}
ingresses:
- name: main
  rules:
  - hostname: plain.bench.test
    endpoint: bench
  - hostname: locked.bench.test
    endpoint: bench
    policy:
      basicAuth: {users: {bench: "$HASH"}}
      allow: ["127.0.0.0/8", "::1"]
      hostHeaderRewrite: origin.internal
      requestHeaders: {set: {X-Team: bench}, remove: [X-Debug]}
      responseHeaders: {set: {X-Frame-Options: DENY}}
YAML
"$BIN/tunnel-server" -C "$work/relay.yaml" >"$work/relay.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q "service=agents-entrypoint" "$work/relay.log" && break; sleep 0.1; done
P_PUBLIC=$(grep -o 'address=[^ ]*:[0-9]* .*service=agents-entrypoint' "$work/relay.log" | head -1 | sed 's/address=[^ ]*:\([0-9]*\) .*/\1/')
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --tunnel-id bench --expose 127.0.0.1:$P_NGINX >"$work/agent.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q "connected to relay" "$work/agent.log" && break; sleep 0.1; done
AUTH="Authorization: Basic $(printf 'bench:bench-password' | base64)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: locked.bench.test' -H "$AUTH" "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 200 ] || { echo "the locked host answered $code" >&2; tail -5 "$work/relay.log" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: locked.bench.test' "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 401 ] || { echo "the locked host answered $code without credentials" >&2; exit 1; }

wrkrun() { # host [header] -> "req/s p99ms requests"
  local extra=(); [ -n "${2:-}" ] && extra=(-H "$2")
  wrk -t2 -c32 -d"${SECS}s" --latency -H "Host: $1" "${extra[@]}" "http://127.0.0.1:$P_PUBLIC/" 2>/dev/null | wrk_stats
}
plain=(); plain99=(); locked=(); locked99=()
for _ in $(seq "${REPS:-3}"); do
  read -r r p _ <<<"$(wrkrun plain.bench.test)"; plain+=("$r"); plain99+=("$p")
  read -r r p _ <<<"$(wrkrun locked.bench.test "$AUTH")"; locked+=("$r"); locked99+=("$p")
done
pm=$(median "${plain[@]}"); lm=$(median "${locked[@]}")
echo
echo "Visitor policy on the HTTP path, loopback, $(nproc) cores, wrk -c32, ${SECS}s per run, median of ${REPS:-3} rounds"
echo
echo "| rule | req/s | p99 ms |"
echo "|---|---|---|"
echo "| no policy | ${pm%.*} | $(median "${plain99[@]}") |"
echo "| basic auth (bcrypt) + allow list + header rewriting | ${lm%.*} | $(median "${locked99[@]}") |"
echo
echo "policy / no policy: $(ratio "$lm" "$pm") (target >= 0.90)"
