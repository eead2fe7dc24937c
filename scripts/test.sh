#!/usr/bin/env bash
# Install what is missing, then run every check and test suite.
# Usage: scripts/test.sh [all|rust|c|package|python|node|cross]   (default: all; from anywhere
#        inside the repository). Each stage installs what it needs and builds
#        what it tests, so one language's suite can run alone while iterating
#        (cross needs the python and node stages run before it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stages="rust c package python node cross"
stage="${1:-all}"
case "$stage" in
    all) ;;
    rust | c | package | python | node | cross) stages="$stage" ;;
    *)
        echo "unknown stage \"$stage\"; expected one of: all $stages" >&2
        exit 2
        ;;
esac

step() { printf '\n==> %s\n' "$*"; }

# --- system packages: redis-server and redis-cli (tests start their own
# servers, clusters and Sentinels), openssl (TLS
# tests), a C and C++ compiler, valgrind, make and pkg-config (C ABI tests),
# cmake (the C/C++ SDK's find_package check).
# Rust, Python 3 and Node (with npm) are expected on the machine.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli makes the test cluster (redis-cli --cluster create)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
# ip (network namespaces for the partition test, core/tests/partition.rs)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if ((${#missing[@]})); then
    step "installing ${missing[*]} with apt-get"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package may start a system-wide server; the tests never use it.
redis-server --version


stage_rust() {
    step "rustfmt"
    cargo fmt --all -- --check

    step "clippy"
    cargo clippy --workspace --all-targets -- -D warnings

    step "rustdoc (broken links are errors)"
    RUSTDOCFLAGS="-D warnings" cargo doc -q -p ratewarden --no-deps

    step "Rust tests (unit, doc, real-Redis scenarios, faults, Cluster and Sentinel, binding parity, layers)"
    cargo test --workspace --exclude ratewarden-ffi

    step "CLI smoke run: demo on memory://"
    cargo run -q -p ratewarden-cli -- demo --duration 2s --instances 3 >/dev/null
}

stage_c() {
    step "C tests (C programs on memory://, Redis and a Cluster, valgrind, C++, header drift)"
    cargo build -p ratewarden-ffi
    cargo test -p ratewarden-ffi

    step "C install: scripts/install-c.sh to a temporary prefix, build examples/c with pkg-config"
    prefix=$(mktemp -d)
    trap 'rm -rf "$prefix"' EXIT
    scripts/install-c.sh --prefix "$prefix" >/dev/null
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -s -C examples/c clean example
    example_out=$(LD_LIBRARY_PATH="$prefix/lib" examples/c/example memory://)
    echo "$example_out"
    grep -q "429 Too Many Requests" <<<"$example_out"
    make -s -C examples/c clean
}

stage_package() {
    step "Packages: scripts/package.sh; the artifacts installed and used as a user without Rust would (tests/packaging/run.sh)"
    ensure_venv
    scripts/package.sh
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
    step "C/C++ SDK with pkg-config and CMake find_package, no Rust on PATH"
    tests/packaging/run.sh c "dist/ratewarden-c-$version-$(rustc -vV | sed -n 's/^host: //p').tar.gz"
    step "Python: the wheel into a venv with no Rust on PATH; the sdist built from source"
    tests/packaging/run.sh python dist/ratewarden-"$version"-cp39-abi3-*.whl "dist/ratewarden-$version.tar.gz"
    step "Node: the npm package and its platform package into a fresh project, no Rust on PATH"
    tests/packaging/run.sh node "dist/ratewarden-$version.tgz" "dist/ratewarden-linux-x64-gnu-$version.tgz"
}

# python3 -m venv works (Debian ships it as python3-venv).
ensure_venv() {
    local probe
    probe=$(mktemp -d)
    if ! python3 -m venv "$probe/v" >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv
    fi
    rm -rf "$probe"
}

stage_python() {
    step "Python: pip install ./python into a venv, stubtest, pytest"
    venv="$PWD/target/py-venv"
    ensure_venv
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "./python[test]"
    # Stubs drift check and docstring examples, against the installed package.
    (cd / && "$venv/bin/python" -m mypy.stubtest ratewarden._native ratewarden.errors)
    # The pure-Python modules (middleware included) type-check against the stubs.
    (cd python && "$venv/bin/python" -m mypy python/ratewarden)
    (cd / && "$venv/bin/python" -m pytest -q -p no:cacheprovider -o asyncio_default_fixture_loop_scope=function --doctest-modules --pyargs ratewarden)
    "$venv/bin/python" -m pytest -q python/tests
}

stage_node() {
    step "Node: npm ci, npm run build (the addon from source), .d.ts drift, node --test, tsc"
    (cd node && npm ci --no-audit --no-fund && npm run build)
    if ! git diff --quiet -- node/native.d.ts 2>/dev/null; then
        git diff -- node/native.d.ts
        echo "node/native.d.ts is out of date: commit the file napi build regenerated" >&2
        exit 1
    fi
    (cd node && npm test && npm run typecheck)
}

stage_cross() {
    step "Cross-language: C, Python and Node processes share 20/minute on one key of one Redis"
    cargo build -p ratewarden-ffi
    if [ ! -x target/py-venv/bin/python ] || [ ! -d node/node_modules ]; then
        echo "the cross stage needs the python and node stages first (scripts/test.sh all)" >&2
        exit 1
    fi
    tests/cross/run.sh
}

for s in $stages; do
    "stage_$s"
done

echo
echo "all checks passed ($stage)"
