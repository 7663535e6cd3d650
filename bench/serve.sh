#!/usr/bin/env bash
# `serve` feeding `hf download`, side by side in one run with
# `python -m http.server` feeding `curl` the same big file, on loopback.
# Ours verifies the snapshot once before serving and speaks the hub's
# protocol (HEAD, ETag, X-Linked-*); hf download then hashes what it gets.
# Goal (issue 19): at least as fast as http.server feeding curl. `curl` from
# serve is timed too: it tells the server's part from the client's; and
# huggingface_hub's own downloader (bench/hf_http_get.py) from http.server:
# the same client as `hf download`, fed by the reference server.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1024}
PY=target/venv/bin/python
WORK=${BENCH_DIR:-target/bench/serve}
SRC=$WORK/src
OUT=$WORK/out

command -v hyperfine >/dev/null || { echo "==> installing hyperfine" >&2; apt-get install -y -qq hyperfine >/dev/null; }
[ -x "$PY" ] || scripts/install-deps.sh
cargo build --release -q -p haid-models --bin haid-models

if [ ! -f "$WORK/.done-$BIG_MB" ]; then
  echo "==> generating the cache: ${BIG_MB} MiB + 20 small files" >&2
  rm -rf "$SRC" && mkdir -p "$SRC"
  "$PY" bench/make_cache.py "$SRC" "$BIG_MB"
  touch "$WORK/.done-$BIG_MB"
fi
BLOB=$(ls -S "$SRC"/models--bench--big/blobs/ | head -1)
mkdir -p "$OUT/plain"
ln -sf "$(realpath "$SRC/models--bench--big/blobs/$BLOB")" "$OUT/plain/big.bin"
cat "$OUT/plain/big.bin" > /dev/null # page cache warm for both

target/release/haid-models --cache-dir "$SRC" serve --bind 127.0.0.1:0 > "$WORK/serve.url" 2> /dev/null &
SERVE=$!
"$PY" -m http.server 0 --bind 127.0.0.1 --directory "$OUT/plain" > "$WORK/http.log" 2>&1 &
HTTP=$!
trap 'kill $SERVE $HTTP 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$WORK/serve.url" ] && grep -q "port" "$WORK/http.log" && break; sleep 0.1; done
URL=$(head -1 "$WORK/serve.url")
PORT=$(grep -o 'port [0-9]*' "$WORK/http.log" | head -1 | cut -d' ' -f2)
curl -s "$URL/api/models/bench/big" > /dev/null # the first look verifies the snapshot, before timing
echo "==> serve at $URL, http.server on port $PORT; $(nproc) cores" >&2

export HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1
hyperfine --runs "$RUNS" --warmup 1 --style basic --export-json "$WORK/result.json" \
  --prepare "rm -rf $OUT/dst $OUT/big.bin && sync" \
  -n "hf download from serve" "HF_ENDPOINT=$URL target/venv/bin/hf download bench/big --cache-dir $OUT/dst > /dev/null 2>&1" \
  -n "curl from serve" "curl -sS -o $OUT/big.bin $URL/bench/big/resolve/main/model.safetensors" \
  -n "curl from http.server" "curl -sS -o $OUT/big.bin http://127.0.0.1:$PORT/big.bin" \
  -n "hf http_get from http.server" "$PY bench/hf_http_get.py http://127.0.0.1:$PORT/big.bin $OUT/big.bin" >&2

"$PY" - "$WORK/result.json" "$BIG_MB" <<'PYEOF'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
mb = int(sys.argv[2])
ours, curl, ref = r["hf download from serve"], r["curl from serve"], r["curl from http.server"]
hf_ref = r["hf http_get from http.server"]
for name, t in (("hf download from serve", ours), ("curl from serve", curl), ("curl from http.server", ref), ("hf http_get from http.server", hf_ref)):
    print(f"{name:28} {t:5.2f} s  {mb / t:5.0f} MiB/s")
print(f"serve + hf download: {ref / ours:4.2f}x the speed of http.server + curl (goal >= 1.0)")
print(f"serve + curl: {ref / curl:4.2f}x the speed of http.server + curl (the server alone)")
print(f"serve + hf download: {hf_ref / ours:4.2f}x the speed of http.server + huggingface_hub's downloader (the same client)")
PYEOF
