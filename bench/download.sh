#!/usr/bin/env bash
# Download speed, side by side in one run, from the fake hub on loopback:
# `haid-models download` vs Python `hf download` vs `curl` of the big file.
# Repo: one 1 GiB file + 50 small ones. Each run starts from an empty cache.
# Goal (issue 3): at least as fast as `hf download`, and >= 80 % of curl's speed.
# Also timed: curl followed by sha256sum, i.e. curl doing the whole job we do
# (we verify every byte against its sha256 before the blob is committed).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1024}
PY=target/venv/bin/python
WORK=${BENCH_DIR:-target/bench/download}
ROOT=$WORK/root
CACHE=$WORK/cache

command -v hyperfine >/dev/null || { echo "==> installing hyperfine" >&2; apt-get install -y -qq hyperfine >/dev/null; }
[ -x "$PY" ] || scripts/install-deps.sh
cargo build --release -q -p haid-models -p haid-models-tests --bin haid-models --bin fake-hub

if [ ! -f "$WORK/.done-$BIG_MB" ]; then
  echo "==> generating the repo: ${BIG_MB} MiB + 50 small files" >&2
  rm -rf "$ROOT" && mkdir -p "$ROOT/bench/big/configs"
  head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom > "$ROOT/bench/big/model.safetensors"
  for i in $(seq 1 50); do head -c $((200 + i * 37)) /dev/urandom | base64 > "$ROOT/bench/big/configs/file-$i.json"; done
  touch "$WORK/.done-$BIG_MB"
fi
cat "$ROOT/bench/big/model.safetensors" > /dev/null # page cache warm for every contender

target/release/fake-hub --root "$ROOT" > "$WORK/hub.json" &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$WORK/hub.json" ] && break; sleep 0.1; done
URL=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/hub.json")
curl -s "$URL/api/models/bench/big" > /dev/null # the hub hashes the repo once, before timing
echo "==> fake hub at $URL; $(nproc) cores" >&2

export HF_ENDPOINT=$URL HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1
hyperfine --runs "$RUNS" --style basic --export-json "$WORK/result.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n haid-models "target/release/haid-models download bench/big --cache-dir $CACHE --json > /dev/null" \
  -n "hf download" "target/venv/bin/hf download bench/big --cache-dir $CACHE > /dev/null 2>&1" \
  -n "curl (big file only)" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors" \
  -n "curl + sha256sum" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors && sha256sum $CACHE/big.bin > /dev/null" >&2

"$PY" - "$WORK/result.json" "$BIG_MB" <<'PYEOF'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
mb = int(sys.argv[2])
ours, hf, curl, curl_sha = r["haid-models"], r["hf download"], r["curl (big file only)"], r["curl + sha256sum"]
for name, t in (("haid-models", ours), ("hf download", hf), ("curl", curl), ("curl+sha256", curl_sha)):
    print(f"{name:12} {t:6.2f} s  {mb / t:7.0f} MiB/s")
print(f"haid-models vs hf download: {hf / ours:4.2f}x as fast (goal >= 1.0)")
print(f"haid-models vs curl: {curl / ours * 100:4.0f} % of curl's speed (goal >= 80 %)")
print(f"haid-models vs curl + sha256sum: {curl_sha / ours * 100:4.0f} % of its speed")
PYEOF
