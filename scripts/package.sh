#!/usr/bin/env bash
# Build release artifacts into dist/ (see RELEASING.md).
# Usage: scripts/package.sh [all|c|python]   (default: all)
#   c: dist/ratewarden-c-<version>-<target>.tar.gz, the C/C++ SDK:
#      lib/libratewarden.so.0 (+ libratewarden.so link), lib/libratewarden.a,
#      include/ratewarden.h, include/ratewarden.hpp,
#      lib/pkgconfig/ratewarden.pc, lib/cmake/ratewarden/ (find_package).
#   python: dist/ratewarden-<version>-cp39-abi3-<platform>.whl (one wheel for
#      every CPython >= 3.9) and dist/ratewarden-<version>.tar.gz, the sdist
#      (core/ inside: it builds with Rust present), both with maturin.
# Built with the `dist` profile (release without debug info). Run the same
# script on each platform for its artifacts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stages="c python"
stage="${1:-all}"
case "$stage" in
    all) ;;
    c | python) stages="$stage" ;;
    *)
        echo "unknown artifact \"$stage\"; expected one of: all $stages" >&2
        exit 2
        ;;
esac

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
target=$(rustc -vV | sed -n 's/^host: //p')
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
dist="$PWD/dist"
mkdir -p "$dist"

size() { du -h "$1" | cut -f1; }

package_c() {
    # One link with a soname: programs record libratewarden.so.0, not a path.
    cargo rustc -q --profile dist -p ratewarden-ffi --lib -- -C link-arg=-Wl,-soname,libratewarden.so.0
    local built="$target_dir/dist" name="ratewarden-c-$version-$target"
    local sdk="$dist/$name"
    rm -rf "$sdk" "$sdk.tar.gz"
    mkdir -p "$sdk/lib/pkgconfig" "$sdk/lib/cmake/ratewarden" "$sdk/include"
    install -m 0755 "$built/libratewarden.so" "$sdk/lib/libratewarden.so.0"
    ln -s libratewarden.so.0 "$sdk/lib/libratewarden.so"
    install -m 0644 "$built/libratewarden.a" "$sdk/lib/"
    # The standard library's objects in the archive carry line tables.
    strip --strip-debug "$sdk/lib/libratewarden.a"
    install -m 0644 include/ratewarden.h include/ratewarden.hpp "$sdk/include/"
    # Relocatable: paths relative to the .pc file itself.
    sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" ffi-c/ratewarden.pc.in \
        >"$sdk/lib/pkgconfig/ratewarden.pc"
    install -m 0644 ffi-c/cmake/ratewardenConfig.cmake "$sdk/lib/cmake/ratewarden/"
    IFS=. read -r major minor _ <<<"$version"
    sed -e "s|@VERSION@|$version|" -e "s|@MAJOR@|$major|" -e "s|@MINOR@|$minor|" \
        ffi-c/cmake/ratewardenConfigVersion.cmake.in >"$sdk/lib/cmake/ratewarden/ratewardenConfigVersion.cmake"
    cat >"$sdk/README" <<TXT
ratewarden $version C/C++ SDK for $target (license: MIT OR Apache-2.0)

include/ratewarden.h    the C ABI;  include/ratewarden.hpp  the C++17 wrapper
lib/                    libratewarden.so.0 (soname), libratewarden.a
pkg-config:  PKG_CONFIG_PATH=<sdk>/lib/pkgconfig cc app.c \$(pkg-config --cflags --libs ratewarden)
CMake:       cmake -DCMAKE_PREFIX_PATH=<sdk> ...; find_package(ratewarden $major.$minor REQUIRED);
             target_link_libraries(app PRIVATE ratewarden::ratewarden)   # or ratewarden::ratewarden_static
Static link: cc app.c <sdk>/lib/libratewarden.a -lpthread -ldl -lm
TXT
    tar -C "$dist" -czf "$sdk.tar.gz" "$name"
    echo "dist/$name.tar.gz: $(size "$sdk.tar.gz") (libratewarden.so $(size "$sdk/lib/libratewarden.so.0"), libratewarden.a $(size "$sdk/lib/libratewarden.a"))"
    rm -rf "$sdk"
}

package_python() {
    # maturin, in a venv of its own (the version pyproject.toml asks for).
    local venv="$target_dir/pkg-venv"
    if [ ! -x "$venv/bin/maturin" ]; then
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q "maturin>=1.7,<2"
    fi
    rm -f "$dist"/ratewarden-"$version"-*.whl "$dist/ratewarden-$version.tar.gz"
    local log="$target_dir/package-python.log"
    (cd python && "$venv/bin/maturin" build --profile dist --out "$dist" && "$venv/bin/maturin" sdist --out "$dist") \
        >"$log" 2>&1 || { cat "$log"; exit 1; }
    for f in "$dist"/ratewarden-"$version"-*.whl "$dist/ratewarden-$version.tar.gz"; do
        echo "dist/$(basename "$f"): $(size "$f")"
    done
}

for s in $stages; do
    "package_$s"
done
