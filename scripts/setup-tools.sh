#!/usr/bin/env bash
# Installs what building the web client needs, when it is missing: the wasm32 target and the
# wasm-bindgen CLI of exactly the version Cargo.lock pins (from crates.io; nothing is downloaded
# from elsewhere). Safe to run again: it does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The standard library's sources: the client's build rebuilds std for size with them (see
# scripts/build-frontend.sh; without them it builds, larger).
if ! rustup component list --installed | grep -q '^rust-src'; then
  echo "==> adding the rust-src component"
  rustup component add rust-src || echo "note: no rust-src; the client is built larger" >&2
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ -z "$want" ]]; then
  echo "cannot find wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if [[ "$have" != "$want" ]]; then
  # Without --locked: the CLI's own lockfile names a yanked crate (see TOOLCHAIN notes).
  echo "==> installing wasm-bindgen-cli $want (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$want"
fi

# Optional: wasm-opt from npm's binaryen shrinks the client by about a quarter, terser
# minifies the JS glue and @gfx/zopfli writes the gzip copies. Never Debian's binaryen (too old;
# its output fails in the browser).
if { [[ ! -x node_modules/.bin/wasm-opt ]] || [[ ! -x node_modules/.bin/terser ]] \
    || [[ ! -d node_modules/@gfx/zopfli ]]; } \
  && command -v npm >/dev/null 2>&1; then
  echo "==> installing binaryen (wasm-opt), terser and zopfli from npm"
  npm ci --no-audit --no-fund || echo "note: npm ci failed; the client is built without wasm-opt/terser" >&2
fi
