#!/usr/bin/env bash
# make test-windows: the core and the CLI built for Windows
# (x86_64-pc-windows-gnu, linked by Debian's mingw-w64) and tested under Wine:
#   - clippy for that target (core, CLI, and the integration tests, which must
#     compile there: what is inherently unix in them is cfg(unix));
#   - every unit test of the core and of the CLI, run by cargo through Wine;
#   - the Windows CLI against huggingface_hub and the fake hub (tests/windows/smoke.sh).
# What is not tested on Windows, and why, is in the README ("Windows").
# Prints how long it took: it must stay under 10 minutes on a cold CI machine.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

scripts/install-deps.sh

TARGET=x86_64-pc-windows-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WIN_DIR=$CARGO_TARGET_DIR/windows
mkdir -p "$WIN_DIR"

# Debian 12's Wine 8.0 lacks bcryptprimitives.dll, which every Rust .exe
# needs to start: tests/windows/bcryptprimitives.c says more.
SHIM=$WIN_DIR/bcryptprimitives.dll
if [ ! -f "$SHIM" ] || [ tests/windows/bcryptprimitives.c -nt "$SHIM" ]; then
  log "building the ProcessPrng shim for Wine"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$SHIM" \
    tests/windows/bcryptprimitives.c tests/windows/bcryptprimitives.def -ladvapi32
fi
export HAID_SHIM_DLL=$SHIM
# A prefix of our own (made on first use, ~10 s), quiet, and without the
# Mono and Gecko installers Wine would otherwise offer.
export WINEPREFIX=$WIN_DIR/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$PWD/tests/windows/wine-runner.sh

log "clippy for Windows: the core, the CLI and the integration tests"
# Windows has its own sizes (a PathBuf is 32 bytes) and its own cfg paths:
# what passes clippy on Linux may not there.
cargo clippy --target "$TARGET" -p haid-models-core -p haid-models --all-targets -- -D warnings
cargo clippy --target "$TARGET" -p haid-models-tests --tests -- -D warnings

log "unit tests of the core and the CLI, for Windows, under Wine"
# --lib/--bins: doctests would compile one .exe each, for nothing new.
cargo test --target "$TARGET" -p haid-models-core --lib
cargo test --target "$TARGET" -p haid-models --bins

log "the Windows CLI, and the fake hub it downloads from"
cargo build --target "$TARGET" -p haid-models
cargo build -p haid-models-tests --bin fake-hub
EXE=$CARGO_TARGET_DIR/$TARGET/debug/haid-models.exe
cp "$SHIM" "$(dirname "$EXE")/"
HAID_WIN_EXE=$EXE HAID_FAKE_HUB=$CARGO_TARGET_DIR/debug/fake-hub PY=$PWD/target/venv/bin/python \
  tests/windows/smoke.sh

log "make test-windows passed in $((SECONDS - START)) s"
