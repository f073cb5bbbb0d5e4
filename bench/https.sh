#!/usr/bin/env bash
# HTTPS at the relay against nginx, on loopback, in one run, printed as a table:
#   - HTTPS keep-alive requests/s and p99 latency (wrk, 32 connections, a 612-byte nginx page):
#       ours:     TLS terminated by the relay (--https-addr), Mux to the agent, HTTP/1.1 to nginx;
#       baseline: nginx terminating the same TLS in front of `ssh -R` to the same origin;
#       ceiling:  nginx terminating the same TLS straight to the origin (no tunnel at all);
#   - h2 through our relay with h2load, 32 connections x 10 streams, against our own HTTP/1.1 figure
#     (and the same for nginx alone, to show what h2 gains on this machine at all).
# Targets (issue 13): ours >= 2x the nginx + ssh -R pair, >= 60% of the ceiling, p99 <= 5 ms;
# h2 >= 1.5x our HTTP/1.1 req/s.
#
#   bash bench/https.sh                 # builds release binaries first
#   BIN=/path/to/release SECS=10 REPS=5 bash bench/https.sh   (medians of REPS rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
need=()
for t in wrk h2load nginx sshd ssh openssl python3; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client nginx-light openssh-server openssh-client openssl >/dev/null
fi
source bench/common.sh
P_ORIGIN=$base; P_AGENTS=$((base+1)); P_PUBLIC=$((base+2)); P_HTTPS=$((base+3)); P_SSHD=$((base+4)); P_SSH_HTTP=$((base+5)); P_NGX_SSH=$((base+6)); P_NGX_DIRECT=$((base+7))

# One certificate for every TLS terminator: a test CA and a P-256 leaf for localhost (wrk sends
# the URL's host as SNI, and it must resolve to loopback).
mkdir -p "$work/ca" && bash Tests/Support/make_test_ca.sh "$work/ca" localhost >/dev/null
CERT=$work/ca/server.pem; KEY=$work/ca/server.key

# The origin: nginx with a 612-byte page, one worker.
mkdir -p "$work/www" && head -c 612 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
# nginx's worker runs as nobody: it must be able to reach the page (mktemp's folder is 0700).
chmod o+rx "$work" "$work/www"
cat > "$work/origin.conf" <<NGINX
worker_processes 1; pid $work/origin.pid; error_log $work/origin.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$P_ORIGIN; root $work/www; } }
NGINX
nginx -c "$work/origin.conf" -g 'daemon off;' & pids+=($!)

# ssh -R on loopback (aes128-gcm) carrying the origin, as tunnel.sh sets it up.
start_sshd $P_SSHD
ssh_r -R $P_SSH_HTTP:127.0.0.1:$P_ORIGIN

# nginx terminating TLS: once in front of ssh -R (the pair to beat), once straight to the origin
# (the ceiling). Keep-alive to the upstream, as our agent keeps one to the local service.
cat > "$work/tls.conf" <<NGINX
worker_processes auto; pid $work/tls.pid; error_log $work/tls.err;
events { worker_connections 4096; }
http {
  # keepalive_requests: nginx closes an h2 connection after 1000 requests by default, which
  # h2load -D does not reopen.
  access_log off; keepalive_requests 10000000;
  upstream viassh { server 127.0.0.1:$P_SSH_HTTP; keepalive 64; }
  upstream direct { server 127.0.0.1:$P_ORIGIN; keepalive 64; }
  ssl_certificate $CERT; ssl_certificate_key $KEY; ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:$P_NGX_SSH ssl http2;
           location / { proxy_pass http://viassh; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:$P_NGX_DIRECT ssl http2;
           location / { proxy_pass http://direct; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
nginx -c "$work/tls.conf" -g 'daemon off;' & pids+=($!)

# Our relay with the same certificate on its HTTPS port, and one agent exposing the origin.
"$BIN/tunnel-server" --state-dir "$work/state" --agent-addr 127.0.0.1:$P_AGENTS --public-addr 127.0.0.1:$P_PUBLIC \
  --https-addr 127.0.0.1:$P_HTTPS --tls-cert "$CERT" --tls-key "$KEY" --max-public-conns-per-ip 0 >"$work/relay.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -f "$work/state/agent-token" ] && grep -q "service=https" "$work/relay.log" && break; sleep 0.1; done
TOKEN=$(cat "$work/state/agent-token"); PIN=$(grep -o 'sha256 [0-9a-f]*' "$work/relay.log" | head -1 | cut -d' ' -f2)
"$BIN/tunnel-agent" --relay 127.0.0.1:$P_AGENTS --token "$TOKEN" --pin "$PIN" --expose 127.0.0.1:$P_ORIGIN --hostname localhost >"$work/agent.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q "connected to relay" "$work/agent.log" && break; sleep 0.1; done
sleep 1
for p in $P_HTTPS $P_NGX_SSH $P_NGX_DIRECT; do
  curl -sf --cacert "$work/ca/ca.pem" "https://localhost:$p/" -o /dev/null || { echo "no answer over HTTPS on $p" >&2; tail -5 "$work/relay.log" >&2; exit 1; }
done

wrkrun() { # url -> "req/s p99ms"
  wrk -t2 -c32 -d"${SECS}s" --latency "$1" 2>/dev/null | python3 -c '
import sys, re
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print("%.0f %.2f" % (float(rps), v))'
}
h2run() { # url -> "req/s proto" (h2load's own figure; proto is what ALPN settled)
  h2load -c 32 -m 10 -D "$SECS" --warm-up-time=1 "$1" 2>/dev/null | python3 -c '
import sys, re
t = sys.stdin.read()
m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", t)
p = re.search(r"Application protocol: (\S+)", t)
print("%.0f %s" % (float(m.group(1)) if m else 0, p.group(1) if p else "none"))'
}
declare -A RPS P99
ours_h2=(); ceiling_h2=(); proto=none
for _ in $(seq "${REPS:-3}"); do
  for side in ours ssh ceiling; do
    case $side in ours) port=$P_HTTPS;; ssh) port=$P_NGX_SSH;; ceiling) port=$P_NGX_DIRECT;; esac
    read -r r p <<<"$(wrkrun "https://localhost:$port/")"
    RPS[$side]+="$r "; P99[$side]+="$p "
  done
  read -r r proto <<<"$(h2run "https://localhost:$P_HTTPS/")"
  ours_h2+=("$r")
  read -r r _ <<<"$(h2run "https://localhost:$P_NGX_DIRECT/")"
  ceiling_h2+=("$r")
done
o=$(median ${RPS[ours]}); s=$(median ${RPS[ssh]}); c=$(median ${RPS[ceiling]}); h=$(median "${ours_h2[@]}"); ch=$(median "${ceiling_h2[@]}")
echo
echo "HTTPS through the relay vs nginx + ssh -R vs nginx alone, loopback, $(nproc) cores, ${SECS}s per run, median of ${REPS:-3} rounds"
echo
echo "| measure | ours (relay TLS + Mux) | nginx TLS + ssh -R | nginx TLS, no tunnel | ours / ssh -R | ours / no tunnel |"
echo "|---|---|---|---|---|---|"
echo "| wrk 32 conns, 612 B page (req/s) | ${o%.*} | ${s%.*} | ${c%.*} | $(ratio $o $s) | $(ratio $o $c) |"
echo "| wrk p99 latency (ms) | $(median ${P99[ours]}) | $(median ${P99[ssh]}) | $(median ${P99[ceiling]}) | - | - |"
echo
echo "| h2 (h2load -c32 -m10) | h2 req/s | HTTP/1.1 req/s (wrk) | h2 / HTTP/1.1 |"
echo "|---|---|---|---|"
echo "| ours (ALPN: $proto) | ${h%.*} | ${o%.*} | $(ratio $h $o) |"
echo "| nginx TLS, no tunnel | ${ch%.*} | ${c%.*} | $(ratio $ch $c) |"
