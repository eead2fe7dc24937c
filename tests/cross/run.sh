#!/usr/bin/env bash
# Cross-language: C, Python and Node processes (two of each) share the quota
# "20/minute" on one key of one real redis-server and must admit exactly 20
# together; then the five web integrations (FastAPI, Flask, Django, Express,
# Fastify) must answer one request sequence with byte-identical headers. Needs the C library (cargo build -p ratewarden-ffi), the Python
# venv of scripts/test.sh (target/py-venv) and the built Node addon.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${RATEWARDEN_PYTHON:-target/py-venv/bin/python}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
cc -O1 -Iinclude -o "$work/hammer" tests/cross/hammer.c -Ltarget/debug -lratewarden -Wl,-rpath,"$PWD/target/debug"
url="redis://127.0.0.1:$port"
client="cross-$$"
# Every process starts checking at the same moment, 3 s from now (after
# Python's and Node's start-up), so the languages interleave on the key.
start=$(( $(date +%s%3N) + 3000 ))
for i in 1 2; do
    "$work/hammer" "$url" "$client" /shared 20/minute 15 "$start" >"$work/c$i" &
    "$python" tests/cross/hammer.py "$url" "$client" /shared 20/minute 15 "$start" >"$work/py$i" &
    node tests/cross/hammer.js "$url" "$client" /shared 20/minute 15 "$start" >"$work/js$i" &
done
wait_all=0
for job in $(jobs -p); do
    [ "$job" = "$redis_pid" ] && continue
    wait "$job" || wait_all=1
done
if [ "$wait_all" -ne 0 ]; then echo "a hammer process failed" >&2; exit 1; fi
total=0
for f in c1 c2 py1 py2 js1 js2; do
    n=$(cat "$work/$f")
    echo "$f admitted $n"
    total=$((total + n))
done
echo "C + Python + Node admitted $total of 90 under 20/minute"
[ "$total" -eq 20 ]
# The web integrations of both languages: one request sequence, the same bytes.
"$python" tests/cross/web_headers.py "$url"
# The web examples run as they are (memory://).
"$python" tests/cross/examples.py
