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

echo "== cargo doc"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked --quiet

echo "== all checks passed"
