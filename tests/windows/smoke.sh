#!/usr/bin/env bash
# The Windows CLI (x86_64-pc-windows-gnu, under Wine) against the real thing:
#  1. it scans a no-symlink cache written by huggingface_hub with the numbers
#     scan_cache_dir gives;
#  2. it downloads from the fake hub (a Linux process) into a fresh cache,
#     which then passes its own verify and Python's `hf cache verify`;
#  3. hostile names a Windows file system cannot hold are refused with a
#     clear message and nothing written for them.
# Called by scripts/test-windows.sh, which builds what it runs and sets
# WINEPREFIX, HAID_WIN_EXE, HAID_FAKE_HUB and PY.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=target/windows/smoke
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
ROOT=$WORK/hub
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { echo "test-windows: $*" >&2; exit 1; }
win() { wine "$HAID_WIN_EXE" "$@"; }
winpath() { winepath -w "$1" 2>/dev/null; }

# A repo as sentence-transformers ships one: nested folders, an LFS-sized
# file, and two paths with the same bytes (one blob for both).
mkrepo() {
  local dir=$ROOT/$1
  mkdir -p "$dir/1_Pooling" "$dir/onnx"
  printf '{"dim": 8}' > "$dir/config.json"
  printf '{"pooling_mode_mean_tokens": true}' > "$dir/1_Pooling/config.json"
  head -c 300000 /dev/urandom > "$dir/model.safetensors"
  head -c 3000 /dev/urandom > "$dir/onnx/model.onnx"
  cp "$dir/config.json" "$dir/onnx/config.json"
}
mkrepo acme/tiny
# Hostile repos: names Windows cannot hold, and two paths one file on Windows.
mkdir -p "$ROOT/evil/reserved" "$ROOT/evil/case"
printf 'x' > "$ROOT/evil/reserved/aux.json"
printf 'x' > "$ROOT/evil/reserved/config.json"
printf 'a' > "$ROOT/evil/case/README.md"
printf 'b' > "$ROOT/evil/case/readme.md"

"$HAID_FAKE_HUB" --root "$ROOT" > "$WORK/hub.json" &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$WORK/hub.json" ] && break; sleep 0.1; done
URL=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/hub.json")
export HF_ENDPOINT=$URL HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1

log "1. scan of a cache written by huggingface_hub without symlinks"
PYCACHE=$WORK/py-cache
HF_HUB_DISABLE_SYMLINKS=1 target/venv/bin/hf download acme/tiny --cache-dir "$PYCACHE" > /dev/null
[ -z "$(find "$PYCACHE" -type l)" ] || fail "huggingface_hub made symlinks with HF_HUB_DISABLE_SYMLINKS=1"
win --json scan --cache-dir "$(winpath "$PYCACHE")" > "$WORK/scan.json" || fail "scan failed"
"$PY" tests/windows/compare_scan.py "$WORK/scan.json" "$PYCACHE"

log "2. download from the fake hub"
OURS=$WORK/our-cache
win --json download acme/tiny --cache-dir "$(winpath "$OURS")" > "$WORK/download.json" \
  || fail "download failed: $(tail -c 2000 "$WORK/download.json")"
[ -z "$(find "$OURS" -type l)" ] || fail "the Windows build made symlinks where Wine cannot"
SNAP=$(ls -d "$OURS"/models--acme--tiny/snapshots/*)
for f in config.json 1_Pooling/config.json model.safetensors onnx/model.onnx onnx/config.json; do
  cmp -s "$SNAP/$f" "$ROOT/acme/tiny/$f" || fail "$f differs from the hub's"
done
win --json verify acme/tiny --cache-dir "$(winpath "$OURS")" > "$WORK/verify.json" || fail "our verify failed: $(cat "$WORK/verify.json")"
target/venv/bin/hf cache verify acme/tiny --cache-dir "$OURS" > /dev/null || fail "hf cache verify failed"
win --json scan --cache-dir "$(winpath "$OURS")" > "$WORK/scan2.json"
"$PY" tests/windows/compare_scan.py "$WORK/scan2.json" "$OURS"
# Again: nothing to fetch, nothing changes.
win --json download acme/tiny --cache-dir "$(winpath "$OURS")" > /dev/null || fail "a second download failed"

log "3. names Windows cannot hold are refused"
for id in evil/reserved evil/case; do
  if win download "$id" --cache-dir "$(winpath "$WORK/evil-cache")" 2> "$WORK/err.txt"; then
    fail "$id was downloaded"
  fi
  grep -Eq 'reserved device name|differ only in case' "$WORK/err.txt" \
    || fail "$id: no clear message: $(cat "$WORK/err.txt")"
  sed 's/^/    /' "$WORK/err.txt" | head -2 >&2
done
[ -z "$(find "$WORK/evil-cache" -type f -path '*snapshots*' 2>/dev/null)" ] || fail "a refused repo left snapshot files"
log "Windows CLI smoke test passed"
