#!/usr/bin/env bash
# Benchmark a local 3-master + 3-replica Redis Cluster against one Redis
# with one replica (REPLICA=0: none) in the same run, with the split of
# decisions and Redis CPU across the masters.
#
#   scripts/bench-cluster.sh [extra `ratewarden bench` arguments]
#
# Starts 8 throwaway redis-server processes on free loopback ports (no
# persistence) and stops them on exit. Needs redis-server and redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# A free port whose cluster bus port (+10000) is valid and free too.
free_port() {
    python3 - <<'PY'
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    if port + 10000 > 65535:
        continue
    try:
        b = socket.socket(); b.bind(("127.0.0.1", port + 10000)); b.close()
    except OSError:
        continue
    print(port)
    break
PY
}

start() { # port [args...]
    local port=$1; shift
    mkdir -p "$dir/$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir/$port" --loglevel warning "$@" >/dev/null 2>&1 &
    local pid=$!
    pids+=("$pid")
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { echo "redis-server on port $port did not start" >&2; exit 1; }
        sleep 0.05
    done
}

nodes=()
for _ in 1 2 3 4 5 6; do
    port=$(free_port)
    start "$port" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000
    nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
until redis-cli -p "${nodes[0]#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.1; done
single=$(free_port)
start "$single"
# Each cluster master streams its writes to a replica; give the one Redis a
# replica too (REPLICA=0 to leave it alone), so both pay for replication.
if [ "${REPLICA:-1}" != 0 ]; then
    start "$(free_port)" --replicaof 127.0.0.1 "$single"
fi

cargo build --release -q -p ratewarden-cli
target/release/ratewarden bench --url "redis+cluster://${nodes[0]}" \
    --compare "redis://127.0.0.1:$single" "$@"
