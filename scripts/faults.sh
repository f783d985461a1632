#!/usr/bin/env bash
# The long fault tests and the bounded fuzz runs of docs/RELIABILITY.md. (The quick fault tests
# run with every `cargo test`, so in scripts/test.sh too.)
#
#   scripts/faults.sh                 everything: fault tests (quick + long), fuzzing 60 s a target
#   scripts/faults.sh tests           only the fault tests
#   scripts/faults.sh engine          only the embedded engine's crash tests (kill -9 200 times,
#                                     the commit-boundary sweep); CRASH_RUNS=50 for fewer
#   scripts/faults.sh fuzz            only the fuzz runs
#   FUZZ_SECONDS=300 scripts/faults.sh fuzz
#   FAULT_SEED=42 scripts/faults.sh tests    other kill times (the seeds are printed in the report)
#
# Writes the logs and a summary (every `fault-report:` line, the fuzz counts) under
# target/faults/, prints the summary, and exits non-zero if anything failed.
#
# Fuzzing needs cargo-fuzz (installed when missing) and libFuzzer's sanitizer flags, which
# stable Rust accepts with RUSTC_BOOTSTRAP=1. The fuzz crate (fuzz/) is its own workspace and
# builds into fuzz/target.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-all}
fuzz_seconds=${FUZZ_SECONDS:-60}
out=target/faults
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
failed=()

say() { printf 'faults: %s\n' "$*"; }

if [ ! -x .tools/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server ]; then
  ./scripts/install-tools.sh
fi

run_tests() {
  say "fault tests (quick and long), one at a time"
  local log=$out/tests.log
  # One test at a time: the kill tests are timing-sensitive and the machine may have 2 cores.
  if ! cargo test --no-fail-fast --test 'faults_*' -- --include-ignored --nocapture --test-threads 1 >"$log" 2>&1; then
    failed+=("fault tests (see $log)")
  fi
  engine_crash_tests
  # Broken .proto files: protoc-gen-restate-rs/tests/broken.rs.
  if ! cargo test -p protoc-gen-restate-rs --test broken >"$out/broken.log" 2>&1; then
    failed+=("broken .proto tests (see $out/broken.log)")
  fi
  {
    grep -h -o 'fault-report: .*' "$log" | sed 's/^fault-report: /test /'
    echo "test broken-proto fixtures=$(ls protoc-gen-restate-rs/tests/broken/*.proto | wc -l) $(grep -h '^test result' "$out/broken.log")"
    # Each test binary ends with a list of its failed tests.
    awk '/^failures:$/ {list = 1; next} list && /^    [a-z_]+$/ {print "failed " $1; next} /^test result/ {list = 0}' "$log" | sort -u
    grep -h '^test result' "$log" | sed 's/^test result/binary/'
  } >>"$summary"
}

# The embedded engine's crash tests: kill -9 at random moments, many times, and a stop at every
# commit boundary of eight scenarios (tests/engine_crash_sweep.rs).
engine_crash_tests() {
  crash_runs
  if ! cargo test --test engine_crash_sweep -- --nocapture >"$out/engine_crash_sweep.log" 2>&1; then
    failed+=("engine crash sweep (see $out/engine_crash_sweep.log)")
  fi
  grep -h -o 'fault-report: engine-crash-sweep .*' "$out/engine_crash_sweep.log" | sed 's/^fault-report: /test /' >>"$summary"
}

# Kill -9 of the embedded engine (tests/engine_crash.rs), CRASH_RUNS times (default 200), each
# run with a fresh seed: a run that fails prints its seed, and CRASH_SEED=<n> replays it.
crash_runs() {
  local runs=${CRASH_RUNS:-200} log=$out/engine_crash.log bin
  say "engine kill -9 test, $runs runs"
  bin=$(cargo test --no-run --test engine_crash 2>&1 | grep -o 'target/[a-z]*/deps/engine_crash-[0-9a-f]*' | head -1)
  if [ -z "$bin" ]; then
    failed+=("engine crash test: no test binary")
    return
  fi
  : >"$log"
  local i passed=0 hung=0 other=0 began=$SECONDS
  for i in $(seq 1 "$runs"); do
    local one
    one=$("$bin" --nocapture 2>&1)
    printf '== run %s\n%s\n' "$i" "$one" >>"$log"
    if printf '%s' "$one" | grep -q '^test result: ok'; then
      passed=$((passed + 1))
    elif printf '%s' "$one" | grep -q 'still running after'; then
      hung=$((hung + 1))
    else
      other=$((other + 1))
    fi
  done
  local reports kills acked reruns lost dups
  reports=$(grep -o 'fault-report: engine-crash .*' "$log")
  sum() { printf '%s\n' "$reports" | grep -o " $1=[0-9]*" | cut -d= -f2 | awk '{s += $1} END {print s + 0}'; }
  kills=$(sum kills); acked=$(sum acknowledged); reruns=$(sum rerun_before_journaling)
  lost=$(sum lost); dups=$(sum duplicated)
  echo "test engine-crash runs=$runs passed=$passed hung=$hung failed=$other kills=$kills acknowledged=$acked lost=$lost duplicated=$dups rerun_before_journaling=$reruns seconds=$((SECONDS - began))" >>"$summary"
  if [ $((hung + other)) -gt 0 ]; then
    failed+=("engine crash test: $hung hung, $other failed of $runs (seeds in $log)")
  fi
}

plugin_seeds() {
  # Real CodeGeneratorRequests, captured from protoc with a plugin that only saves its input.
  local corpus=fuzz/corpus/plugin_request dump
  mkdir -p "$corpus"
  dump=$(mktemp -d)
  cat >"$dump/protoc-gen-dump" <<EOF
#!/bin/sh
cat > "$root/$corpus/protoc-\$\$-\$(date +%s%N)"
EOF
  chmod +x "$dump/protoc-gen-dump"
  for file in proto/hydra/v1/*.proto proto/scenarios/v1/*.proto proto/common/v1/*.proto \
    protoc-gen-restate-rs/tests/broken/*.proto; do
    for opt in "" "binary,require_service_type,default_stubs"; do
      protoc -I proto -I "$(dirname "$file")" --plugin=protoc-gen-dump="$dump/protoc-gen-dump" \
        --dump_out="$dump" --dump_opt="$opt" "$file" >/dev/null 2>&1 || true
    done
  done
  rm -rf "$dump"
}

engine_seeds() {
  local corpus=fuzz/corpus/engine_ingress
  mkdir -p "$corpus"
  # method byte, route byte, then path suffix \n idempotency key \n body (see the target).
  printf '\x00\x00\n\n"ada"' >"$corpus/greet"
  printf '\x00\x01\n\n"ada"' >"$corpus/greet-send"
  printf '\x00\x03\nkey-1\n5' >"$corpus/add"
  printf '\x00\x06\n\n3' >"$corpus/steps"
  printf '\x00\x07?delay=10ms\n\n3' >"$corpus/steps-send-delay"
  printf '\x00\x08sign_1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE/resolve\n\n"x"' >"$corpus/awakeable"
  printf '\x01\x09inv_00000000000000000000000000000000/attach\n\n' >"$corpus/attach"
}

run_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz >"$out/cargo-install-fuzz.log" 2>&1 || {
      failed+=("cargo install cargo-fuzz (see $out/cargo-install-fuzz.log)")
      return
    }
  fi
  plugin_seeds
  engine_seeds
  say "building the fuzz targets"
  if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build) >"$out/fuzz-build.log" 2>&1; then
    failed+=("fuzz build (see $out/fuzz-build.log)")
    return
  fi
  for target in plugin_request protocol_frames engine_ingress codec_decode; do
    say "fuzzing $target for ${fuzz_seconds}s"
    local log=$out/fuzz-$target.log before after
    mkdir -p "fuzz/artifacts/$target"
    before=$(ls "fuzz/artifacts/$target" | grep -c -E '^(crash|timeout|oom|leak)-' || true)
    # Fork mode goes on after a crash, so one known crash does not hide the rest of the run.
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
      -max_total_time="$fuzz_seconds" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
      -ignore_ooms=1 -timeout=30 -rss_limit_mb=4096) >"$log" 2>&1
    after=$(ls "fuzz/artifacts/$target" | grep -c -E '^(crash|timeout|oom|leak)-' || true)
    local stats runs
    stats=$(grep -a -E '^#[0-9]+: cov:' "$log" | tail -1)
    runs=$(printf '%s' "$stats" | sed -E 's/^#([0-9]+):.*/\1/')
    echo "fuzz $target seconds=$fuzz_seconds runs=${runs:-?} $(printf '%s' "$stats" | grep -o 'corp: [0-9]*' | tr -d ' ') $(printf '%s' "$stats" | grep -o 'oom/timeout/crash: [0-9/]*' | tr -d ' ') new_artifacts=$((after - before))" >>"$summary"
    if [ "$((after - before))" -gt 0 ]; then
      failed+=("fuzz $target: $((after - before)) new artifacts in fuzz/artifacts/$target")
    fi
  done
}

case "$what" in
  tests) run_tests ;;
  engine) engine_crash_tests ;;
  fuzz) run_fuzz ;;
  all) run_tests; run_fuzz ;;
  *) echo "usage: scripts/faults.sh [all|tests|engine|fuzz]" >&2; exit 2 ;;
esac

echo
say "summary ($summary)"
cat "$summary"
if [ "${#failed[@]}" -gt 0 ]; then
  echo
  say "FAILED:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
say "all passed"
