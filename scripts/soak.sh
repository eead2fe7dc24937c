#!/usr/bin/env bash
# A bounded soak (not part of the test command): full speed over 1,000,000
# distinct keys, first on memory://, then on a throwaway redis-server that
# is restarted (empty) halfway through. Prints a line every 10 s: decisions/s,
# errors, the slowest call, the process's RSS and Redis's used_memory.
# Fails if any call took longer than its deadline + 250 ms.
#
#   scripts/soak.sh [SECONDS_PER_BACKEND (600)] [KEYS (1000000)]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
keys="${2:-1000000}"
cargo build --release -q -p ratewarden --example soak
soak=target/release/examples/soak

echo "==> memory://"
"$soak" memory://soak "$seconds" "$keys"

echo "==> redis (restarted after $((seconds / 2)) s)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
start_redis() {
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
        --loglevel warning >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
    echo "redis-server did not start" >&2; exit 1
}
start_redis
trap 'kill "$redis_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$soak" "redis://127.0.0.1:$port" "$seconds" "$keys" &
soak_pid=$!
sleep $((seconds / 2))
echo "  -- restarting redis-server (SIGKILL, then empty) --"
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
sleep 1
start_redis
wait "$soak_pid"
