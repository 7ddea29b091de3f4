//! The patched actix-http (`vendor/actix-http`) is the one compiled in.
//!
//! Cargo uses a `[patch.crates-io]` copy only while it satisfies every
//! dependent's version requirement. When a newer actix-web asks for a newer
//! actix-http, Cargo quietly takes the registry's crate instead (and warns
//! that the patch was not used), and pushlab's memory per connection would
//! double without a test noticing. So: the lock file holds exactly one
//! actix-http, and it is the path dependency (no `source`, which registry
//! crates have). The same holds for actix-ws (`vendor/actix-ws`).
//! `scripts/vendor-check.sh` checks the copies' contents.

const LOCK: &str = include_str!("../../Cargo.lock");

/// The `[[package]]` blocks of the lock file named `name`.
fn packages<'a>(lock: &'a str, name: &str) -> Vec<&'a str> {
    let wanted = format!("name = \"{name}\"\n");
    lock.split("[[package]]\n")
        .filter(|block| block.starts_with(&wanted))
        .collect()
}

/// The lock file holds one `name`, and it is the path dependency in
/// `vendor/<name>`.
fn assert_the_copy_is_compiled_in(name: &str) {
    let found = packages(LOCK, name);
    assert_eq!(found.len(), 1, "more than one {name}: {found:?}");
    assert!(
        !found[0].contains("source = "),
        "{name} comes from a registry, not from vendor/{name}: {}",
        found[0]
    );
}

#[test]
fn the_vendored_actix_http_is_the_only_one_compiled_in() {
    assert_the_copy_is_compiled_in("actix-http");
}

/// The same for actix-ws, whose copy hands the negotiated compression to
/// its codecs: a registry copy would quietly negotiate none.
#[test]
fn the_vendored_actix_ws_is_the_only_one_compiled_in() {
    assert_the_copy_is_compiled_in("actix-ws");
}

#[test]
fn a_registry_copy_would_be_noticed() {
    let lock = "[[package]]\nname = \"actix-http\"\nversion = \"3.21.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
    let found = packages(lock, "actix-http");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("source = "));
}
