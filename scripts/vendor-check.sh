#!/usr/bin/env bash
# Each crate under vendor/ is the crate of that version from crates.io plus
# vendor/<crate>.patch, and nothing else: this script rebuilds that from the
# pristine crate and compares it with the vendored tree, file by file. CI
# runs it (.ci/run), so an edit to a copy that its patch does not record
# fails the build.
#
#   scripts/vendor-check.sh          check
#   scripts/vendor-check.sh --write  after changing a copy on purpose:
#                                    rewrite the patches from the copies
#
# The pristine crates come from Cargo's own download (a throwaway manifest
# that asks for exactly these versions), so they are the crates crates.io
# serves.
set -euo pipefail
cd "$(dirname "$0")/.."

# The vendored crates: name and version.
CRATES=("actix-http 3.20.0" "actix-ws 0.4.0")
# What a copy keeps of its crate (vendor/README.md says why the rest goes).
KEPT=(src Cargo.toml LICENSE-APACHE LICENSE-MIT README.md)

mode=${1:-check}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fetch the pristine crates.
mkdir -p "$work/fetch/src"
{
  printf '[package]\nname = "fetch-pristine"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n'
  for crate in "${CRATES[@]}"; do
    read -r name version <<<"$crate"
    printf '%s = "=%s"\n' "$name" "$version"
  done
} >"$work/fetch/Cargo.toml"
echo 'fn main() {}' >"$work/fetch/src/main.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"

status=0
for crate in "${CRATES[@]}"; do
  read -r name version <<<"$crate"
  vendored=vendor/$name
  patch=vendor/$name.patch
  pristine=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "$name-$version" | head -n 1)
  if [ -z "$pristine" ]; then
    echo "vendor-check: $name $version was not found after cargo fetch" >&2
    exit 1
  fi
  rm -rf "$work/a" "$work/b"
  mkdir -p "$work/a"
  for item in "${KEPT[@]}"; do cp -R "$pristine/$item" "$work/a/"; done

  if [ "$mode" = "--write" ]; then
    # Labels a/ and b/, paths relative to the crate: `patch -p1` inside it.
    # File times are left out, so that rewriting an unchanged copy changes nothing.
    (cd "$work" && cp -R "$OLDPWD/$vendored" b && diff -ruN a b) |
      sed -E 's/^((\+\+\+|---) [^\t]+)\t.*/\1/' >"$patch" || true
    echo "vendor-check: wrote $patch ($(grep -c '^+++ ' "$patch") files changed)"
    continue
  fi

  (cd "$work/a" && patch --quiet -p1 --no-backup-if-mismatch) <"$patch"
  if ! diff -r "$work/a" "$vendored" >"$work/differences"; then
    echo "vendor-check: $vendored is not $name $version plus $patch:" >&2
    cat "$work/differences" >&2
    echo "If the change is meant, record it: scripts/vendor-check.sh --write" >&2
    status=1
    continue
  fi
  echo "vendor-check: $vendored is $name $version plus $patch"
done
exit $status
