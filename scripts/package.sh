#!/usr/bin/env bash
# Build release artifacts into dist/ (see RELEASING.md).
# Usage: scripts/package.sh [all|c|python|node]   (default: all)
#   c: dist/ratewarden-c-<version>-<target>.tar.gz, the C/C++ SDK:
#      lib/libratewarden.so.0 (+ libratewarden.so link), lib/libratewarden.a,
#      include/ratewarden.h, include/ratewarden.hpp,
#      lib/pkgconfig/ratewarden.pc, lib/cmake/ratewarden/ (find_package).
#   python: dist/ratewarden-<version>-cp39-abi3-<platform>.whl (one wheel for
#      every CPython >= 3.9) and dist/ratewarden-<version>.tar.gz, the sdist
#      (core/ inside: it builds with Rust present), both with maturin.
#   node: dist/ratewarden-<version>.tgz, the npm package (JavaScript, types,
#      the napi-rs loader; no install script, no Rust), with the optional
#      dependency ratewarden-<platform>, and dist/ratewarden-<platform>-<version>.tgz,
#      that platform package (the addon), made with napi-rs's own tooling.
# Built with the `dist` profile (release without debug info). Run the same
# script on each platform for its artifacts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stages="c python node"
stage="${1:-all}"
case "$stage" in
    all) ;;
    c | python | node) stages="$stage" ;;
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

package_node() {
    # napi-rs's tooling keeps the paths it manages inside the package
    # directory: node/npm (the platform packages) and node/npm-artifacts.
    local stage="$target_dir/npm-stage" log="$target_dir/package-node.log"
    local npm_dir="$PWD/node/npm" artifacts="$PWD/node/npm-artifacts"
    rm -rf "$stage" "$npm_dir" "$artifacts" "$log"
    mkdir -p "$stage/main" "$artifacts"
    quiet() { (cd node && "$@") >>"$log" 2>&1 || { cat "$log"; exit 1; }; }
    # The build tools (@napi-rs/cli) are development dependencies.
    [ -x node/node_modules/.bin/napi ] || quiet npm ci --no-audit --no-fund
    # The addon, as the platform package carries it; native.js and
    # native.d.ts in the repository stay as they are.
    quiet npx napi build --platform --profile dist --no-js --dts "$artifacts/unused.d.ts" --output-dir "$artifacts"
    quiet npx napi create-npm-dirs --npm-dir "$npm_dir"
    quiet npx napi artifacts --output-dir "$artifacts" --npm-dir "$npm_dir"
    local platform_dir
    for platform_dir in "$npm_dir"/*/; do
        (cd "$platform_dir" && npm pack --silent --pack-destination "$dist" >/dev/null)
    done
    # The main package: the files package.json lists, and the platform
    # packages as optional dependencies of the same version.
    local f
    for f in package.json $(node -p "require('./node/package.json').files.join(' ')"); do
        cp -R "node/$f" "$stage/main/"
    done
    cp README.md "$stage/main/"
    node -e '
        const fs = require("fs")
        const [file, npmDir] = process.argv.slice(1)
        const pkg = JSON.parse(fs.readFileSync(file))
        // What only a checkout needs (the build tools and their scripts).
        delete pkg.scripts
        delete pkg.devDependencies
        pkg.optionalDependencies = {}
        for (const dir of fs.readdirSync(npmDir).sort()) {
            const sub = JSON.parse(fs.readFileSync(`${npmDir}/${dir}/package.json`))
            pkg.optionalDependencies[sub.name] = sub.version
        }
        fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n")
    ' "$stage/main/package.json" "$npm_dir"
    (cd "$stage/main" && npm pack --silent --pack-destination "$dist" >/dev/null)
    rm -rf "$npm_dir" "$artifacts" "$stage"
    for f in "$dist/ratewarden-$version.tgz" "$dist"/ratewarden-*-"$version".tgz; do
        echo "dist/$(basename "$f"): $(size "$f")"
    done
}

for s in $stages; do
    "package_$s"
done
