# Sourced by the bench scripts: release binaries (built unless BIN names them), a work folder and
# the processes started, both cleaned up on exit, and a random base port for the run.
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

# median X...: the median of the numbers; ratio A B: A/B (0 when B is 0); both to 2 decimals.
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.2f" % (a/b if b else 0))' "$1" "$2"; }

# wrk's --latency report on stdin -> "req/s p99ms requests"; fails when wrk saw non-2xx answers.
wrk_stats() {
  python3 -c '
import sys, re
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
n = re.search(r"(\d+) requests in", t).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if non2xx: sys.exit("wrk saw %s non-2xx answers" % non2xx.group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print("%.0f %.2f %s" % (float(rps), v, n))'
}

# nginx on 127.0.0.1:$1 serving one 612-byte page at / (the page every HTTP benchmark asks for).
start_nginx_page() {
  mkdir -p "$work/www" && head -c 612 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
  chmod o+rx "$work" "$work/www"
  cat > "$work/nginx.conf" <<NGINX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$1; root $work/www; } }
NGINX
  nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
}

# sshd on loopback (port $1), aes128-gcm, key login only: the `ssh -R` baseline the tunnel scripts
# measure against. `ssh_r -R a:host:b ...` then starts the client (its PID in $!).
start_sshd() {
  mkdir -p /run/sshd "$work/ssh"
  ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/user"
  cp "$work/ssh/user.pub" "$work/ssh/authorized_keys"
  cat > "$work/ssh/sshd_config" <<SSHD
Port $1
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
  SSHD_PORT=$1
}
ssh_r() {
  ssh -q -N -i "$work/ssh/user" -p "$SSHD_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o Ciphers=aes128-gcm@openssh.com "$@" root@127.0.0.1 & pids+=($!)
}
