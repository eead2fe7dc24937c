#!/usr/bin/env bash
# Build the C/C++ SDK (scripts/package.sh c) and install it under a prefix:
# lib/libratewarden.so.0 (+ the libratewarden.so link), lib/libratewarden.a,
# include/ratewarden.h and ratewarden.hpp, lib/pkgconfig/ratewarden.pc and
# lib/cmake/ratewarden/ (find_package).
# Usage: scripts/install-c.sh [--prefix DIR]     (default /usr/local)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
prefix=/usr/local
while (($#)); do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
scripts/package.sh c >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
target=$(rustc -vV | sed -n 's/^host: //p')
install -d "$prefix"
tar -C "$prefix" --strip-components=1 --exclude='*/README' -xzf "dist/ratewarden-c-$version-$target.tar.gz"
echo "installed ratewarden $version under $prefix (run ldconfig if $prefix/lib is a system library directory)"
