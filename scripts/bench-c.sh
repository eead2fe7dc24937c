#!/usr/bin/env bash
# The C ABI's cost per decision.
# Usage: scripts/bench-c.sh [KEYS] [ITERATIONS]
#          added cost of the C ABI over the Rust core, memory://, one thread
#        scripts/bench-c.sh --url redis://HOST:PORT [THREADS] [SECONDS] [CAPACITY]
#          decisions/s and client CPU per decision, THREADS threads sharing one limiter
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p ratewarden-ffi
target="${CARGO_TARGET_DIR:-target}/release"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-}" = "--url" ]; then
    cc -O2 -Wall -Wextra -Werror -std=c11 -pthread -I include ffi-c/bench/redis.c -L "$target" -lratewarden -o "$out/redis"
    LD_LIBRARY_PATH="$target" "$out/redis" "$2" "${3:-64}" "${4:-5}" "${5:-100000}"
else
    cc -O2 -Wall -Wextra -Werror -std=c11 -I include ffi-c/bench/overhead.c -L "$target" -lratewarden -o "$out/overhead"
    LD_LIBRARY_PATH="$target" "$out/overhead" "${1:-1000}" "${2:-5000000}"
fi
