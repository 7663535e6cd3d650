# HAID Models — the two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
VENV := target/venv
BIN := target/debug/haid-models

.PHONY: help run test test-windows test-deps ui test-ui test-e2e test-bundle bundle lint test-rust bench bench-scan bench-download bench-watch bench-app bench-manifest bench-archive bench-serve clean

help:
	@echo "make run     build and start the desktop app (or say how, without a display)"
	@echo "make test    install what is missing, then format check, clippy and every test"
	@echo "make test-windows  the core and the CLI built for Windows, tested under Wine"
	@echo "make bench   benchmarks against huggingface_hub and du (see BENCHMARKS.md)"
	@echo "make bundle  the .deb and .rpm installers, in target/release/bundle/"

## run: the desktop app (needs a display; see the message otherwise).
run: test-deps ui
	$(CARGO) build -p haid-models-desktop -p haid-models
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "No display here. Run it as:  xvfb-run -a dbus-run-session -- target/debug/haid-models-desktop"; \
	  echo "or use the CLI:              target/debug/haid-models list"; \
	else target/debug/haid-models-desktop; fi

## test: what CI runs (.ci/run) on a fresh Debian machine. The UI is built
## first: the desktop crate embeds ui/dist when it compiles.
test: test-deps ui lint test-ui test-rust test-e2e test-bundle

## test-windows: the core and the CLI built for Windows and tested under
## Wine (scripts/test-windows.sh; README, "Windows").
test-windows:
	scripts/test-windows.sh

## ui: the web UI, built into ui/dist.
ui:
	cd ui && npm run build

test-ui:
	cd ui && npm run check && npm test

## test-e2e: the real app in the real webview (WebdriverIO + tauri-driver +
## WebKitWebDriver) under Xvfb; screenshots of each step in target/e2e/.
test-e2e:
	$(CARGO) build --workspace --bins
	cd ui && xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- npx wdio run e2e/wdio.conf.js

## bundle: the .deb and .rpm (release profile: lto, strip; see docs/decisions.md).
bundle: test-deps ui
	scripts/bundle.sh

## test-bundle: build the .deb, install it with apt-get, run the CLI and the
## app from /usr, remove it and check nothing is left (needs root, as CI is).
test-bundle: test-deps ui
	scripts/test-bundle.sh

## test-deps: Debian packages, Rust components and the Python reference venv.
test-deps:
	scripts/install-deps.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## test-rust: --workspace builds the haid-models binary the CLI tests run.
test-rust:
	HAID_TEST_PYTHON=$(CURDIR)/$(VENV)/bin/python $(CARGO) test --workspace

bench: bench-scan bench-download bench-watch bench-app bench-manifest bench-archive bench-serve

bench-scan: test-deps
	bench/scan.sh

bench-download: test-deps
	bench/download.sh

bench-watch: test-deps
	bench/watch.sh

bench-app: test-deps
	bench/app.sh

bench-manifest: test-deps
	bench/manifest.sh

bench-archive: test-deps
	bench/archive.sh

bench-serve: test-deps
	bench/serve.sh

clean:
	$(CARGO) clean
