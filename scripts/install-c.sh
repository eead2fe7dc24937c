#!/usr/bin/env bash
# Build and install the C library: lib/libratewarden.{so,a},
# include/ratewarden.h and lib/pkgconfig/ratewarden.pc under a prefix.
# Usage: scripts/install-c.sh [--prefix DIR] [--debug]     (default /usr/local, release)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
prefix=/usr/local
profile=release
while (($#)); do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --debug) profile=debug; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if [ "$profile" = release ]; then cargo build --release -p ratewarden-ffi; else cargo build -p ratewarden-ffi; fi
target="${CARGO_TARGET_DIR:-target}/$profile"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libratewarden.so" "$prefix/lib/"
install -m 0644 "$target/libratewarden.a" "$prefix/lib/"
install -m 0644 include/ratewarden.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi-c/ratewarden.pc.in > "$prefix/lib/pkgconfig/ratewarden.pc"
echo "installed ratewarden $version ($profile) under $prefix"
