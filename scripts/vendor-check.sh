#!/usr/bin/env bash
# vendor/actix-http is actix-http 3.20.0 from crates.io plus
# vendor/actix-http.patch, and nothing else: this script rebuilds that from
# the pristine crate and compares it with the vendored tree, file by file.
# CI runs it (.ci/run), so an edit to the copy that the patch does not
# record fails the build.
#
#   scripts/vendor-check.sh          check
#   scripts/vendor-check.sh --write  after changing the copy on purpose:
#                                    rewrite the patch from the copy
#
# The pristine crate comes from Cargo's own download (a throwaway manifest
# that asks for exactly this version), so it is the crate crates.io serves.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.20.0
VENDORED=vendor/actix-http
PATCH=vendor/actix-http.patch
# What the copy keeps of the crate (vendor/README.md says why the rest goes).
KEPT=(src Cargo.toml LICENSE-APACHE LICENSE-MIT README.md)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fetch the pristine crate.
mkdir -p "$work/fetch/src"
printf '[package]\nname = "fetch-pristine"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nactix-http = "=%s"\n' \
  "$VERSION" >"$work/fetch/Cargo.toml"
echo 'fn main() {}' >"$work/fetch/src/main.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
pristine=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "actix-http-$VERSION" | head -n 1)
if [ -z "$pristine" ]; then
  echo "vendor-check: actix-http $VERSION was not found after cargo fetch" >&2
  exit 1
fi

mkdir -p "$work/a"
for item in "${KEPT[@]}"; do cp -R "$pristine/$item" "$work/a/"; done

if [ "${1:-}" = "--write" ]; then
  # Labels a/ and b/, paths relative to the crate: `patch -p1` inside it.
  # File times are left out, so that rewriting an unchanged copy changes nothing.
  (cd "$work" && cp -R "$OLDPWD/$VENDORED" b && diff -ruN a b) |
    sed -E 's/^((\+\+\+|---) [^\t]+)\t.*/\1/' >"$PATCH" || true
  echo "vendor-check: wrote $PATCH ($(grep -c '^+++ ' "$PATCH") files changed)"
  exit 0
fi

(cd "$work/a" && patch --quiet -p1 --no-backup-if-mismatch) <"$PATCH"
if ! diff -r "$work/a" "$VENDORED" >"$work/differences"; then
  echo "vendor-check: $VENDORED is not actix-http $VERSION plus $PATCH:" >&2
  cat "$work/differences" >&2
  echo "If the change is meant, record it: scripts/vendor-check.sh --write" >&2
  exit 1
fi
echo "vendor-check: $VENDORED is actix-http $VERSION plus $PATCH"
