#!/usr/bin/env bash
# Added cost of the C ABI over the Rust core, per decision, on memory://.
# Usage: scripts/bench-c.sh [KEYS] [ITERATIONS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p ratewarden-ffi
target="${CARGO_TARGET_DIR:-target}/release"
out=$(mktemp -d)
cc -O2 -Wall -Wextra -Werror -std=c11 -I include ffi-c/bench/overhead.c -L "$target" -lratewarden -o "$out/overhead"
LD_LIBRARY_PATH="$target" "$out/overhead" "${1:-1000}" "${2:-5000000}"
rm -rf "$out"
