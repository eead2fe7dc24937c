#!/usr/bin/env bash
# Install what is missing, then run every check and test suite.
# Usage: scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# --- system packages: redis-server (tests start their own), openssl (TLS tests)
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if ((${#missing[@]})); then
    step "installing ${missing[*]} with apt-get"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package may start a system-wide server; the tests never use it.
redis-server --version

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests (unit, doc, real-Redis scenarios and faults)"
cargo test --workspace

step "CLI smoke run: demo on memory://"
cargo run -q -p ratewarden-cli -- demo --duration 2s --instances 3 >/dev/null

echo
echo "all checks passed"
