#!/usr/bin/env bash
# Every check Release Desk has, in order, with one summary line at the end.
# Exits non-zero if any check fails. Run through `make test`, which runs
# scripts/setup.sh first.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

log_dir=$(mktemp -d -t release-desk-test.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT
checks_passed=0; checks_failed=0; tests_passed=0; tests_failed=0
failed_names=()

count_cargo() { # sums cargo's "test result:" lines
  local p f
  p=$(grep -E '^test result:' "$1" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ - | bc 2>/dev/null || echo 0)
  f=$(grep -E '^test result:' "$1" | sed -E 's/.* ([0-9]+) failed.*/\1/' | paste -sd+ - | bc 2>/dev/null || echo 0)
  tests_passed=$((tests_passed + ${p:-0})); tests_failed=$((tests_failed + ${f:-0}))
}
count_vitest() {
  local line p f
  line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^\s+Tests\s' | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
  tests_passed=$((tests_passed + ${p:-0})); tests_failed=$((tests_failed + ${f:-0}))
}

# run NAME COUNTER COMMAND...: runs one check, shows its output, records the result.
run() {
  local name=$1 counter=$2; shift 2
  local out="$log_dir/$(echo "$name" | tr ' /' '__').log"
  printf '\n\033[1m=== %s\033[0m\n' "$name"
  "$@" 2>&1 | tee "$out"
  local status=${PIPESTATUS[0]}
  [ "$counter" != "-" ] && "$counter" "$out"
  if [ "$status" -eq 0 ]; then
    checks_passed=$((checks_passed + 1))
  else
    checks_failed=$((checks_failed + 1)); failed_names+=("$name")
    printf '\033[1;31m--- %s failed (exit %s)\033[0m\n' "$name" "$status"
  fi
}

command -v bc >/dev/null || { echo "test: bc is needed to add up test counts" >&2; exit 2; }

# The UI is built first: the app embeds ui/build at compile time.
run "ui build" - bash -c 'cd ui && npx svelte-kit sync && npx vite build --logLevel warn'
run "cargo fmt" - cargo fmt --all --check
run "cargo clippy" - cargo clippy --workspace --all-targets --locked -- -D warnings
# The sample service the local blue-green target runs: the engine's tests
# start it from target/debug.
run "sample service build" - cargo build -p release-desk-local-target --bins --locked
run "rust tests" count_cargo scripts/with-keyring.sh cargo test --workspace --exclude release-desk-e2e --locked --no-fail-fast
run "svelte-check" - bash -c 'cd ui && npm run --silent check'
run "eslint" - bash -c 'cd ui && npm run --silent lint'
run "vitest" count_vitest bash -c 'cd ui && NO_COLOR=1 npx vitest run'
run "app build" - cargo build --bin release-desk --locked
# End-to-end: the real app under Xvfb, driven through tauri-driver and
# WebKitWebDriver, with a real keyring for the settings test.
run "e2e" count_cargo xvfb-run -a -s '-screen 0 1440x900x24' scripts/with-keyring.sh \
  cargo test -p release-desk-e2e --locked --no-fail-fast -- --test-threads=1

printf '\nE2E screenshots: tests/e2e/screenshots/\n'
summary="SUMMARY: checks ${checks_passed} passed, ${checks_failed} failed; tests ${tests_passed} passed, ${tests_failed} failed"
if [ "$checks_failed" -gt 0 ] || [ "$tests_failed" -gt 0 ]; then
  printf '\033[1;31m%s\033[0m (failed: %s)\n' "$summary" "${failed_names[*]}"
  exit 1
fi
printf '\033[1;32m%s\033[0m\n' "$summary"
