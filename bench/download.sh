#!/usr/bin/env bash
# Download speed, side by side in one run, from the fake hub on loopback:
# `haid-models download` vs Python `hf download` vs `curl` of the big file.
# Repo: one 1 GiB file + 50 small ones. Each run starts from an empty cache.
# Goal (issue 3): at least as fast as `hf download`, and >= 80 % of curl's speed
# (issue 18: >= 86 %, now that the big file comes in parallel ranges).
# Also timed: curl followed by sha256sum, i.e. curl doing the whole job we do
# (we verify every byte against its sha256 before the blob is committed), and
# the same at once, in three processes: curl | tee FILE | sha256 (OpenSSL's,
# through Python's hashlib, with the CPU's SHA extensions as ours).
# Issue 18 adds two parts:
# - a second fake hub that holds each connection to THROTTLE bytes/s (10 MB/s,
#   as a CDN does): haid-models (parallel ranges) vs hf download vs curl, one
#   run each (RUNS_THROTTLED); goal >= 5x hf download;
# - `haid-models download --limit-rate 20MB` on the unthrottled hub: goal
#   within 10 % of 20 MiB/s (curl's units: powers of 1024).
# HASH_AT_END=1 adds a throttled run with the hash in one pass after the last
# range (HAID_HASH_AT_END), to compare with the hash that follows the ranges
# (unthrottled, one stream is fast enough and no ranges are used).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
RUNS_THROTTLED=${RUNS_THROTTLED:-1}
THROTTLE=${THROTTLE:-10000000}
LIMIT=${LIMIT:-20MB}
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

# start_hub VAR FILE ARGS…: a fake hub on ROOT; its URL in VAR once it listens.
HUB_PIDS=""
trap 'kill $HUB_PIDS 2>/dev/null' EXIT
start_hub() {
  local var=$1 out=$2; shift 2
  target/release/fake-hub --root "$ROOT" "$@" > "$out" &
  HUB_PIDS="$HUB_PIDS $!"
  for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
  local url
  url=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$out")
  curl -s "$url/api/models/bench/big" > /dev/null # the hub hashes the repo once, before timing
  printf -v "$var" '%s' "$url"
}
start_hub URL "$WORK/hub.json"
start_hub SLOW_URL "$WORK/slow-hub.json" --throttle-per-connection "$THROTTLE"
echo "==> fake hub at $URL, throttled one ($THROTTLE B/s per connection) at $SLOW_URL; $(nproc) cores" >&2

export HF_ENDPOINT=$URL HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1
hyperfine --runs "$RUNS" --style basic --export-json "$WORK/result.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n haid-models "target/release/haid-models download bench/big --cache-dir $CACHE --json > /dev/null" \
  -n "hf download" "target/venv/bin/hf download bench/big --cache-dir $CACHE > /dev/null 2>&1" \
  -n "curl (big file only)" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors" \
  -n "curl + sha256sum" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors && sha256sum $CACHE/big.bin > /dev/null" \
  -n "curl | tee | sha256" "curl -sS $URL/bench/big/resolve/main/model.safetensors | tee $CACHE/big.bin | $PY bench/sha256_stdin.py > /dev/null" >&2

echo "==> throttled hub: $THROTTLE B/s per connection" >&2
HF_ENDPOINT=$SLOW_URL hyperfine --runs "$RUNS_THROTTLED" --style basic --export-json "$WORK/throttled.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n haid-models "target/release/haid-models download bench/big --cache-dir $CACHE --json > /dev/null" \
  -n "hf download" "target/venv/bin/hf download bench/big --cache-dir $CACHE > /dev/null 2>&1" \
  -n "curl (big file only)" "curl -sS -o $CACHE/big.bin $SLOW_URL/bench/big/resolve/main/model.safetensors" \
  ${HASH_AT_END:+-n "haid-models (hash at end)" "HAID_HASH_AT_END=1 target/release/haid-models download bench/big --cache-dir $CACHE --json > /dev/null"} >&2

echo "==> --limit-rate $LIMIT on the unthrottled hub" >&2
hyperfine --runs 1 --style basic --export-json "$WORK/limited.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n "haid-models --limit-rate $LIMIT" "target/release/haid-models download bench/big --cache-dir $CACHE --limit-rate $LIMIT --json > /dev/null" >&2

"$PY" - "$WORK/result.json" "$BIG_MB" "$WORK/throttled.json" "$WORK/limited.json" "$LIMIT" <<'PYEOF'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
mb = int(sys.argv[2])
th = {x["command"]: x["mean"] for x in json.load(open(sys.argv[3]))["results"]}
limited = json.load(open(sys.argv[4]))["results"][0]["mean"]
limit = sys.argv[5]
ours, hf, curl, curl_sha = r["haid-models"], r["hf download"], r["curl (big file only)"], r["curl + sha256sum"]
for name, t in (("haid-models", ours), ("hf download", hf), ("curl", curl), ("curl+sha256", curl_sha)):
    print(f"{name:12} {t:6.2f} s  {mb / t:7.0f} MiB/s")
print(f"haid-models vs hf download: {hf / ours:4.2f}x as fast (goal >= 1.0)")
print(f"haid-models vs curl: {curl / ours * 100:4.0f} % of curl's speed (goal >= 86 %)")
print(f"haid-models vs curl + sha256sum: {curl_sha / ours * 100:4.0f} % of its speed")
piped = r["curl | tee | sha256"]
print(f"haid-models vs curl | tee | sha256 ({piped:5.2f} s, {mb / piped:5.0f} MiB/s): {piped / ours * 100:4.0f} % of its speed")
print("throttled hub (per connection):")
for name in ("haid-models", "hf download", "curl (big file only)"):
    print(f"  {name:20} {th[name]:7.2f} s  {mb / th[name]:7.1f} MiB/s")
print(f"haid-models vs hf download, throttled: {th['hf download'] / th['haid-models']:4.1f}x as fast (goal >= 5x)")
print(f"haid-models vs curl, throttled: {th['curl (big file only)'] / th['haid-models']:4.1f}x as fast")
if "haid-models (hash at end)" in th:
    print(f"throttled: hash following the ranges {th['haid-models']:5.2f} s vs one pass at the end {th['haid-models (hash at end)']:5.2f} s")
want = float(limit.rstrip("MBmb"))
got = mb / limited
print(f"--limit-rate {limit}: {got:5.1f} MiB/s for the whole model, {abs(got - want) / want * 100:4.1f} % off (goal <= 10 %)")
PYEOF
