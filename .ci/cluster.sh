#!/usr/bin/env bash
# The cluster test: PgBouncer (transaction pooling) in front of PostgreSQL on 127.0.0.1:5432,
# three `keepsake serve` behind HAProxy (health-checked on /healthz), a 30 s mixed soak with
# one server SIGKILLed and one restarted with SIGTERM (.ci/cluster_soak.mjs says what it
# checks). PgBouncer and HAProxy run from a temporary folder on free ports, not as services;
# everything is stopped and the database dropped at the end, whatever happens. Bounded: the
# whole run is killed after 170 s.
#
#   bash .ci/cluster.sh [path/to/keepsake]   (default: target/debug/keepsake)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug/keepsake}")
pg_host=127.0.0.1
pg_port=5432

for tool in pgbouncer haproxy; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer haproxy >/dev/null
  fi
done
export PATH="$PATH:/usr/sbin"

work=$(mktemp -d /tmp/keepsake-cluster.XXXXXX)
chmod 755 "$work"
db="keepsake_cluster_$$"
pids=()
cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    echo "--- PgBouncer's log (last lines) ---"; tail -20 "$work/pgbouncer/pgbouncer.log" 2>/dev/null || true
    echo "--- HAProxy's log (last lines) ---"; tail -20 "$work/haproxy.log" 2>/dev/null || true
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -h "$pg_host" -p "$pg_port" -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pgb_port=$(free_port)
lb_port=$(free_port)
ports=("$(free_port)" "$(free_port)" "$(free_port)")

psql -h "$pg_host" -p "$pg_port" -U postgres -qc "CREATE DATABASE $db"

# PgBouncer in transaction mode, with fewer server connections (8) than the three servers'
# pools hold (30): server connections pass from client to client all the time. No
# ignore_startup_parameters: Keepsake sends none PgBouncer refuses with the setting.
mkdir "$work/pgbouncer"
echo '"postgres" ""' >"$work/pgbouncer/userlist.txt"
cat >"$work/pgbouncer/pgbouncer.ini" <<INI
[databases]
keepsake = host=$pg_host port=$pg_port dbname=$db user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/userlist.txt
pool_mode = transaction
default_pool_size = 8
max_client_conn = 500
logfile = $work/pgbouncer/pgbouncer.log
INI
# PgBouncer refuses to run as root; there it drops to nobody (-u), which must read the folder.
as_user=()
if [ "$(id -u)" = 0 ]; then
  as_user=(-u nobody)
  chown -R nobody "$work/pgbouncer"
fi
pgbouncer -q "${as_user[@]}" "$work/pgbouncer/pgbouncer.ini" 2>"$work/pgbouncer.err" &
pids+=($!)

cat >"$work/haproxy.cfg" <<CFG
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
frontend keepsake
  bind 127.0.0.1:$lb_port
  default_backend servers
backend servers
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
  server k1 127.0.0.1:${ports[0]} check
  server k2 127.0.0.1:${ports[1]} check
  server k3 127.0.0.1:${ports[2]} check
CFG
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 50); do
  psql "postgres://postgres@127.0.0.1:$pgb_port/keepsake" -Atqc "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done

KEEPSAKE_BIN="$bin" \
  POOLED_URL="postgres://postgres@127.0.0.1:$pgb_port/keepsake" \
  DIRECT_URL="postgres://postgres@$pg_host:$pg_port/$db" \
  BALANCER_URL="http://127.0.0.1:$lb_port" \
  SERVER_PORTS="$(IFS=,; echo "${ports[*]}")" \
  WORK_DIR="$work" \
  timeout -k 5 170 node .ci/cluster_soak.mjs
