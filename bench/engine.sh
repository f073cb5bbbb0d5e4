#!/usr/bin/env bash
# Throughput of one TCP stream (iperf3) through the engine's `tcp` forward and `http` CONNECT proxy,
# against a direct connection and socat in the same run, on loopback. Prints a table of medians.
#
#   bash bench/engine.sh            # builds release binaries, 3 runs of 5 s per path
#   RUNS=5 SECONDS_PER_RUN=10 bash bench/engine.sh
#   BIN=/path/to/release/dir bash bench/engine.sh   # use already built binaries
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_RUN:-5}

need=()
for tool in iperf3 socat python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  swift build -c release --product tunnel-agent >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
AGENT="$BIN/tunnel-agent"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
P_IPERF=$base; P_SOCAT=$((base+1)); P_FWD=$((base+2)); P_HTTP=$((base+3)); P_ADAPT_OURS=$((base+4)); P_ADAPT_SOCAT=$((base+5)); P_SOCAT_RELAY=$((base+6))

iperf3 -s -B 127.0.0.1 -p $P_IPERF >/dev/null 2>&1 & pids+=($!)
# socat as a plain forwarder: the baseline the `tcp` forward must match.
socat TCP-LISTEN:$P_SOCAT,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$P_IPERF 2>/dev/null & pids+=($!)
"$AGENT" -L "tcp://127.0.0.1:$P_FWD/127.0.0.1:$P_IPERF" -L "http://127.0.0.1:$P_HTTP" >/dev/null 2>&1 & pids+=($!)
# iperf3 cannot speak CONNECT, so socat's PROXY address does it in front of the proxy under test.
socat TCP-LISTEN:$P_ADAPT_OURS,bind=127.0.0.1,reuseaddr,fork PROXY:127.0.0.1:127.0.0.1:$P_IPERF,proxyport=$P_HTTP 2>/dev/null & pids+=($!)
# The same adapter in front of a socat relay: what the CONNECT path costs with socat in the proxy's place.
socat TCP-LISTEN:$P_SOCAT_RELAY,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$P_IPERF 2>/dev/null & pids+=($!)
socat TCP-LISTEN:$P_ADAPT_SOCAT,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$P_SOCAT_RELAY 2>/dev/null & pids+=($!)
sleep 1

measure() { # port -> Gbit/s of one run
  iperf3 -c 127.0.0.1 -p "$1" -t "$SECS" -J 2>/dev/null | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median([float(x) for x in sys.argv[1:]]))' "$@"; }

declare -A result
for name in direct socat tcp-forward http-connect socat-adapter+socat; do
  case $name in
    direct) port=$P_IPERF ;; socat) port=$P_SOCAT ;; tcp-forward) port=$P_FWD ;;
    http-connect) port=$P_ADAPT_OURS ;; socat-adapter+socat) port=$P_ADAPT_SOCAT ;;
  esac
  runs=()
  for _ in $(seq "$RUNS"); do runs+=("$(measure $port)"); done
  result[$name]=$(median "${runs[@]}")
  echo "  $name: ${runs[*]} Gbit/s" >&2
done

ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.2f" % (a/b if b else 0))' "$1" "$2"; }
echo
echo "One TCP stream, iperf3, loopback, median of $RUNS x ${SECS}s ($(nproc) cores)"
printf '| %-44s | %10s | %9s | %9s |\n' "path" "Gbit/s" "vs direct" "vs socat"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "-----------" "-----------"
row() { printf '| %-44s | %10s | %9s | %9s |\n' "$1" "$2" "$(ratio "$2" "${result[direct]}")" "$3"; }
row "direct" "${result[direct]}" "-"
row "socat forward" "${result[socat]}" "1.00"
row "tunnel-agent tcp forward" "${result[tcp-forward]}" "$(ratio "${result[tcp-forward]}" "${result[socat]}")"
row "socat CONNECT adapter -> tunnel-agent http" "${result[http-connect]}" "$(ratio "${result[http-connect]}" "${result[socat-adapter+socat]}")"
row "socat adapter -> socat relay (baseline)" "${result[socat-adapter+socat]}" "1.00"
echo
echo "The CONNECT row's ratio is against the baseline row below it: the same socat adapter in front of"
echo "a socat relay, so both sides of that comparison carry the adapter's cost."
