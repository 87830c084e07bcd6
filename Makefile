# Release Desk — the two commands: `make run` and `make test`.
# Each sets up what is missing first (scripts/setup.sh).
.PHONY: setup ui build run test bench fuzz bindings clean

export PATH := $(HOME)/.cargo/bin:$(PATH)

setup:
	@scripts/setup.sh

ui: setup
	cd ui && npx svelte-kit sync && npx vite build --logLevel warn

build: ui
	cargo build --bin release-desk
	cargo build -p release-desk-local-target --bin release-desk-sample-service

# Launches the app; an empty database opens on the demo workspace.
run: build
	@scripts/run.sh target/debug/release-desk

test: setup
	@scripts/test.sh

# Query latency, cold start and memory of a release build; writes BENCHMARKS.md.
bench: ui
	cargo build --release --bin release-desk
	cargo build --release -p release-desk-local-target --bin release-desk-sample-service
	xvfb-run -a -s '-screen 0 1440x900x24' cargo run --release -p release-desk-bench -- \
		--app target/release/release-desk --app-profile release \
		--sample-service target/release/release-desk-sample-service --out BENCHMARKS.md

# A long run of the property tests over hostile bytes (tar unpacker, nginx
# upstream file, pid files, manifests); `make test` runs a short pass.
fuzz:
	PROPTEST_CASES=20000 cargo test -p release-desk-local-target --lib fuzz_tests

# Regenerates ui/src/lib/ipc/bindings.ts from the Rust commands.
bindings:
	UPDATE_BINDINGS=1 cargo test --lib bindings

clean:
	cargo clean
	rm -rf ui/build ui/.svelte-kit tests/e2e/screenshots
