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
# Issue "downloads join the store": the hubs mark the big file as stored with
# Xet (its `xetHash` / `X-Xet-Hash`, computed once by hf_xet through
# tests/py/shared_store.py), as the real hub does, so haid-models computes its
# Xet hash while it downloads and publishes it to huggingface_hub 2.5's shared
# store. haid-models runs with the store on (HF_HUB_DISABLE_XET, set for hf,
# is unset for it); a last part times it against the same download with
# HF_HUB_DISABLE_SHARED_BLOBS=1 (no Xet hash, no store), RUNS_STORE runs each:
# goal at most 15 % more time. The throttled part has the same pair (one run
# each): what it costs where the network, not the CPU, sets the pace.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
RUNS_THROTTLED=${RUNS_THROTTLED:-1}
RUNS_STORE=${RUNS_STORE:-$RUNS}
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
  rm -f "$WORK"/.xet-*
  touch "$WORK/.done-$BIG_MB"
fi
BIG=$ROOT/bench/big/model.safetensors
if [ ! -s "$WORK/.xet-$BIG_MB" ]; then
  echo "==> the big file's Xet hash, by hf_xet (once)" >&2
  "$PY" tests/py/shared_store.py hash "$BIG" | "$PY" -c 'import json,sys; print(*json.load(sys.stdin).values())' > "$WORK/.xet-$BIG_MB"
fi
XET_HASH=$(cat "$WORK/.xet-$BIG_MB")
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
  curl -sf -X POST -H 'Content-Type: application/json' \
    -d "{\"path\": \"model.safetensors\", \"xet_hash\": \"$XET_HASH\"}" "$url/_fake/xet/bench/big"
  printf -v "$var" '%s' "$url"
}
start_hub URL "$WORK/hub.json"
start_hub SLOW_URL "$WORK/slow-hub.json" --throttle-per-connection "$THROTTLE"
echo "==> fake hub at $URL, throttled one ($THROTTLE B/s per connection) at $SLOW_URL; $(nproc) cores" >&2

export HF_ENDPOINT=$URL HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1
# haid-models with the shared store on: HF_HUB_DISABLE_XET (for hf, which has no
# Xet connection to the fake hub) would turn it off.
HAID="env -u HF_HUB_DISABLE_XET target/release/haid-models"
hyperfine --runs "$RUNS" --style basic --export-json "$WORK/result.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n haid-models "$HAID download bench/big --cache-dir $CACHE --json > /dev/null" \
  -n "hf download" "target/venv/bin/hf download bench/big --cache-dir $CACHE > /dev/null 2>&1" \
  -n "curl (big file only)" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors" \
  -n "curl + sha256sum" "curl -sS -o $CACHE/big.bin $URL/bench/big/resolve/main/model.safetensors && sha256sum $CACHE/big.bin > /dev/null" \
  -n "curl | tee | sha256" "curl -sS $URL/bench/big/resolve/main/model.safetensors | tee $CACHE/big.bin | $PY bench/sha256_stdin.py > /dev/null" >&2

echo "==> throttled hub: $THROTTLE B/s per connection" >&2
HF_ENDPOINT=$SLOW_URL hyperfine --runs "$RUNS_THROTTLED" --style basic --export-json "$WORK/throttled.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n haid-models "$HAID download bench/big --cache-dir $CACHE --json > /dev/null" \
  -n "hf download" "target/venv/bin/hf download bench/big --cache-dir $CACHE > /dev/null 2>&1" \
  -n "curl (big file only)" "curl -sS -o $CACHE/big.bin $SLOW_URL/bench/big/resolve/main/model.safetensors" \
  -n "haid-models (no store)" "HF_HUB_DISABLE_SHARED_BLOBS=1 $HAID download bench/big --cache-dir $CACHE --json > /dev/null" \
  ${HASH_AT_END:+-n "haid-models (hash at end)" "HAID_HASH_AT_END=1 $HAID download bench/big --cache-dir $CACHE --json > /dev/null"} >&2

echo "==> --limit-rate $LIMIT on the unthrottled hub" >&2
hyperfine --runs 1 --style basic --export-json "$WORK/limited.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n "haid-models --limit-rate $LIMIT" "$HAID download bench/big --cache-dir $CACHE --limit-rate $LIMIT --json > /dev/null" >&2

echo "==> the shared store: publishing (Xet hash while downloading) vs HF_HUB_DISABLE_SHARED_BLOBS=1" >&2
hyperfine --runs "$RUNS_STORE" --style basic --export-json "$WORK/store.json" \
  --prepare "rm -rf $CACHE && mkdir -p $CACHE && sync" \
  -n "haid-models (publishes)" "$HAID download bench/big --cache-dir $CACHE --json > /dev/null && test -f $CACHE/blobs/${XET_HASH:0:2}/$XET_HASH" \
  -n "haid-models (no store)" "HF_HUB_DISABLE_SHARED_BLOBS=1 $HAID download bench/big --cache-dir $CACHE --json > /dev/null && test ! -e $CACHE/blobs" >&2

"$PY" - "$WORK/result.json" "$BIG_MB" "$WORK/throttled.json" "$WORK/limited.json" "$LIMIT" "$WORK/store.json" <<'PYEOF'
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
st = {x["command"]: x for x in json.load(open(sys.argv[6]))["results"]}
on, off = st["haid-models (publishes)"], st["haid-models (no store)"]
print("shared store (unthrottled):")
for name, x in (("publishes", on), ("no store", off)):
    print(f"  {name:10} {x['mean']:5.2f} s ± {x['stddev'] or 0:4.2f}  {mb / x['mean']:6.0f} MiB/s  (user {x['user']:4.2f} s, system {x['system']:4.2f} s)")
print(f"publishing costs {(on['mean'] / off['mean'] - 1) * 100:+5.1f} % of the download's time (goal <= +15 %)")
print(f"  CPU: {on['user'] + on['system'] - off['user'] - off['system']:+4.2f} s per {mb} MiB")
throttled_off = th["haid-models (no store)"]
print(f"throttled: publishing {th['haid-models']:5.2f} s vs no store {throttled_off:5.2f} s: {(th['haid-models'] / throttled_off - 1) * 100:+5.1f} %")
PYEOF
