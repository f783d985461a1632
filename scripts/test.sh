#!/usr/bin/env bash
# The project's one verify command: installs the tools the tests use, then checks formatting,
# lints, tests (unit, integration, doc) and docs. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-tools.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --all-targets --workspace --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== restate-rs features"
# Cargo unifies features across the workspace, so the crate that leaves the engine out is
# built alone, and its dependency tree must not hold SQLite.
cargo build -p restate-rs-server-only --locked --quiet
if cargo tree -p restate-rs-server-only -e normal,build --locked --prefix none |
    grep -E '^(rusqlite|libsqlite3-sys) '; then
    echo "restate-rs-server-only depends on SQLite: a default feature of restate-rs leaks in" >&2
    exit 1
fi
for features in "" serve ingress admin testing engine harness; do
    cargo check -p restate-rs --no-default-features --features "$features" --locked --quiet
done

echo "== cargo doc"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked --quiet

echo "== all checks passed"
