#!/usr/bin/env bash
# Install-and-use checks of the release artifacts, as a user without a Rust
# toolchain would: no `cargo` or `rustc` reachable on PATH (except to build
# the Python sdist, which needs Rust by design).
# Usage: tests/packaging/run.sh c SDK.tar.gz
#          Unpacks the C/C++ SDK in a temporary directory; builds sdk_check.c
#          and sdk_check.cpp with pkg-config, and the same (plus a static
#          link) with CMake find_package(ratewarden).
#        tests/packaging/run.sh python WHEEL SDIST
#          Installs the wheel into a fresh venv with no Rust, and the sdist
#          into another with Rust (pip builds it from source).
#        tests/packaging/run.sh node MAIN.tgz PLATFORM.tgz
#          npm-installs the two tarballs into a fresh project with no Rust;
#          require() and import, the middleware subpaths, the types under
#          tsc --strict; and without the platform package, the error.
#        Each program runs on memory:// and on a Redis started here on a
#        free loopback port.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
what="${1:?usage: run.sh c SDK.tar.gz | run.sh python WHEEL SDIST | run.sh node MAIN.tgz PLATFORM.tgz}"
shift

work=$(mktemp -d)
redis_pid=""
cleanup() {
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

rust_path="$PATH"
# No Rust: drop PATH entries holding cargo or rustc, and put first a
# directory whose cargo and rustc fail loudly.
mkdir -p "$work/no-rust"
for tool in cargo rustc rustup; do
    printf '#!/bin/sh\necho "%s called: the packaged artifacts must not need Rust" >&2\nexit 127\n' "$tool" \
        >"$work/no-rust/$tool"
    chmod +x "$work/no-rust/$tool"
done
clean_path="$work/no-rust"
IFS=: read -ra entries <<<"$PATH"
for d in "${entries[@]}"; do
    if [ -x "$d/cargo" ] || [ -x "$d/rustc" ]; then
        # Keep a shared system directory (cc lives there too): the shims
        # come first either way.
        [ -x "$d/cc" ] || continue
    fi
    clean_path="$clean_path:$d"
done
export PATH="$clean_path"
case "$(command -v cargo)" in "$work/no-rust/cargo") ;; *) echo "cargo is still reachable" >&2; exit 1 ;; esac

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis_url="redis://127.0.0.1:$port"
run_id="$$-$(date +%s%N)"

check_c() {
    sdk_tar=$(abs "$1")
    tar -C "$work" -xzf "$sdk_tar"
    sdk=$(echo "$work"/ratewarden-c-*)
    echo "SDK: $(basename "$sdk_tar") unpacked: $(cd "$sdk" && find . -type f -o -type l | sort | tr '\n' ' ')"
    test -L "$sdk/lib/libratewarden.so"
    if readelf -S "$sdk/lib/libratewarden.so.0" | grep -q '\.debug_info'; then
        echo "libratewarden.so.0 still carries debug info" >&2
        exit 1
    fi

    echo "--- pkg-config"
    export PKG_CONFIG_PATH="$sdk/lib/pkgconfig"
    pkg-config --modversion ratewarden
    cc -Wall -Wextra -Werror -std=c11 "$here/sdk_check.c" -o "$work/pc_c" $(pkg-config --cflags --libs ratewarden)
    c++ -Wall -Wextra -Werror -pedantic -std=c++17 "$here/sdk_check.cpp" -o "$work/pc_cpp" \
        $(pkg-config --cflags --libs ratewarden)
    # The programs name the library by its soname, not by a build path.
    readelf -d "$work/pc_c" | grep -q 'Shared library: \[libratewarden.so.0\]'
    LD_LIBRARY_PATH="$sdk/lib" "$work/pc_c" "$redis_url" "pc-$run_id"
    LD_LIBRARY_PATH="$sdk/lib" "$work/pc_cpp" "$redis_url" "pc-$run_id"

    echo "--- CMake find_package(ratewarden)"
    cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$sdk" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" ||
        { cat "$work/cmake.log"; exit 1; }
    cmake --build "$work/build" -j 2 >"$work/build.log" || { cat "$work/build.log"; exit 1; }
    # CMake's build tree finds the imported library by its RUNPATH.
    "$work/build/sdk_check_c" "$redis_url" "cmake-$run_id"
    "$work/build/sdk_check_cpp" "$redis_url" "cmake-$run_id"
    "$work/build/sdk_check_c_static" "$redis_url" "static-$run_id"
    if readelf -d "$work/build/sdk_check_c_static" | grep -q libratewarden; then
        echo "the static build still needs libratewarden.so" >&2
        exit 1
    fi
    # The version file: another minor version (pre-1.0: another ABI) is refused.
    mkdir -p "$work/wrong-version"
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(v C)\nfind_package(ratewarden 0.99 REQUIRED)\n' \
        >"$work/wrong-version/CMakeLists.txt"
    if cmake -S "$work/wrong-version" -B "$work/wrong-version/build" -DCMAKE_PREFIX_PATH="$sdk" \
        >"$work/wrong-version.log" 2>&1; then
        echo "find_package(ratewarden 0.99) accepted version $(pkg-config --modversion ratewarden)" >&2
        exit 1
    fi
    grep -q "compatible with requested version" "$work/wrong-version.log" ||
        { cat "$work/wrong-version.log"; exit 1; }
    echo "C/C++ SDK checks passed"
}

check_python() {
    local wheel sdist
    wheel=$(abs "$1")
    sdist=$(abs "$2")
    echo "--- Python wheel $(basename "$wheel"), no Rust"
    python3 -m venv "$work/wheel-venv"
    "$work/wheel-venv/bin/python" -m pip install -q --no-cache-dir "$wheel"
    (cd "$work" && "$work/wheel-venv/bin/python" "$here/check.py" "$redis_url" "wheel-$run_id")
    echo "--- Python sdist $(basename "$sdist"), built from source with Rust"
    python3 -m venv "$work/sdist-venv"
    (cd "$work" && PATH="$rust_path" "$work/sdist-venv/bin/python" -m pip install -q --no-cache-dir "$sdist")
    (cd "$work" && "$work/sdist-venv/bin/python" "$here/check.py" "$redis_url" "sdist-$run_id")
    echo "Python package checks passed"
}

check_node() {
    local main platform project="$work/node-app" bare="$work/node-bare"
    main=$(abs "$1")
    platform=$(abs "$2")
    local tsc
    tsc="$here/../../node/node_modules/typescript/bin/tsc"
    echo "--- npm install $(basename "$main") $(basename "$platform"), no Rust"
    mkdir -p "$project"
    (cd "$project" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$main" "$platform")
    test ! -e "$project/node_modules/ratewarden/src" # no Rust sources, no install-time build
    cp "$here/check.cjs" "$here/check.mjs" "$here/check.ts" "$project/"
    (cd "$project" && node check.cjs "$redis_url" "cjs-$run_id" && node check.mjs "$redis_url" "esm-$run_id")
    if [ -x "$tsc" ] || [ -f "$tsc" ]; then
        (cd "$project" && node "$tsc" --strict --noEmit --module node16 --moduleResolution node16 --target es2022 \
            --typeRoots "$here/../../node/node_modules/@types" --types node check.ts)
        echo "check.ts: the installed declarations type-check (tsc --strict, node16 resolution)"
    else
        echo "typescript is not installed in node/ (run the node stage first)" >&2
        exit 1
    fi
    echo "--- npm install $(basename "$main") without its optional platform package"
    mkdir -p "$bare"
    (cd "$bare" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error --omit=optional "$main")
    local message
    if message=$(cd "$bare" && node -e "require('ratewarden')" 2>&1); then
        echo "ratewarden loaded without its native addon" >&2
        exit 1
    fi
    for expected in "no native addon for linux-x64-gnu" "ratewarden-linux-x64-gnu" "build from source"; do
        grep -q "$expected" <<<"$message" || { echo "$message"; echo "the error does not say: $expected" >&2; exit 1; }
    done
    echo "without the platform package: $(grep -o 'ratewarden: no native addon for [a-z0-9-]*' <<<"$message")"
    echo "npm package checks passed"
}

case "$what" in
    c) check_c "$@" ;;
    python) check_python "$@" ;;
    node) check_node "$@" ;;
    *) echo "unknown artifact kind $what" >&2; exit 2 ;;
esac
