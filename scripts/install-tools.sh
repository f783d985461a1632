#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, idempotently:
#   protoc  from Debian's protobuf-compiler (when missing)
#   buf, restate-server and the restate CLI  from npm, pinned in .tools/package.json, into
#   .tools/node_modules
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

# npm tools, exact versions in .tools/package.json; reinstalled when it changes.
stamp=.tools/node_modules/.restate-rs-stamp
want=$(sha256sum .tools/package.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing buf, restate-server and the restate CLI from npm into .tools"
  (cd .tools && npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
say "buf $(.tools/node_modules/.bin/buf --version)"
say "$(.tools/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server --version 2>&1 | head -1)"
say "$(.tools/node_modules/@restatedev/restate-linux-x64/bin/restate --version 2>&1 | head -1)"

# --- interop: the Python service of tests/interop_python.rs -------------------------------
# A venv at .tools/python with the Restate Python SDK and hypercorn, exact versions in
# interop/python/requirements.txt; made anew when missing or when that file changes.
py_stamp=.tools/python/.restate-rs-stamp
py_want=$(sha256sum interop/python/requirements.txt | cut -d' ' -f1)
if [ ! -x .tools/python/bin/python ] || [ ! -f "$py_stamp" ] || [ "$(cat "$py_stamp")" != "$py_want" ]; then
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    say "installing python3-venv (Debian)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  say "installing the Python interop service's packages (pip) into .tools/python"
  rm -rf .tools/python
  python3 -m venv .tools/python
  .tools/python/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
    -r interop/python/requirements.txt
  echo "$py_want" > "$py_stamp"
fi
say "$(.tools/python/bin/python --version), restate-sdk $(.tools/python/bin/python -c 'import importlib.metadata as m; print(m.version("restate-sdk"))')"
