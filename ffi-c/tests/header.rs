//! include/ratewarden.h is generated from this crate by the pinned cbindgen;
//! this test regenerates it and fails on any difference. Run with
//! RATEWARDEN_BLESS=1 to write the new header instead.

use std::path::Path;

#[test]
fn checked_in_header_matches_the_source() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header_path = crate_dir.join("../include/ratewarden.h");
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split(['.', '-']);
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let (major, minor, patch) = (next(), next(), next());
    config.after_includes = Some(format!(
        "\n#define RATEWARDEN_VERSION \"{version}\"\n#define RATEWARDEN_VERSION_MAJOR {major}\n\
         #define RATEWARDEN_VERSION_MINOR {minor}\n#define RATEWARDEN_VERSION_PATCH {patch}\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    if std::env::var_os("RATEWARDEN_BLESS").is_some() {
        std::fs::write(&header_path, &generated).expect("write header");
        return;
    }
    let checked_in = std::fs::read_to_string(&header_path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/ratewarden.h is out of date; regenerate with \
         RATEWARDEN_BLESS=1 cargo test -p ratewarden-ffi --test header"
    );
}
