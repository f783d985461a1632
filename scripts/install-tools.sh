#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, idempotently:
#   protoc  from Debian's protobuf-compiler (when missing)
#   buf     from npm, pinned in .tools/package.json, into .tools/node_modules
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'install-tools: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1
  fi
}

if ! command -v protoc >/dev/null 2>&1; then
  say "installing protoc (Debian protobuf-compiler)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
say "$(protoc --version)"

if ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm (Debian)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

if [ ! -x .tools/node_modules/.bin/buf ] || ! .tools/node_modules/.bin/buf --version 2>/dev/null | grep -qx "1.75.0"; then
  say "installing buf from npm into .tools"
  (cd .tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
say "buf $(.tools/node_modules/.bin/buf --version)"
