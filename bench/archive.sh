#!/usr/bin/env bash
# Export and import speed, side by side in one run, on the same folder:
# `haid-models export` vs `tar -cf`, and `haid-models import` vs `tar -xf`.
# Ours verifies every blob against its sha256 on the way (tar checks
# nothing). Repo: one BIG_MB file + 20 small ones, in the cache layout.
# Goal (issue 19): each at least 80 % of tar's throughput. Every run starts
# with nothing dirty (`sync` before it): else the kernel's writeback of the
# previous run's gigabyte lands in the next one's time, whoever runs next;
# and one untimed run first (--warmup): on this VM the first touch of
# memory the guest has not used yet costs seconds, and falls on whoever
# runs first.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1024}
PY=target/venv/bin/python
WORK=${BENCH_DIR:-target/bench/archive}
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
cat "$SRC"/models--bench--big/blobs/* > /dev/null # page cache warm for every contender
mkdir -p "$OUT"
target/release/haid-models --cache-dir "$SRC" export bench/big -o "$OUT/ours.tar" 2>/dev/null
tar -cf "$OUT/tar.tar" -C "$SRC" models--bench--big

echo "==> export: $(nproc) cores" >&2
hyperfine --runs "$RUNS" --warmup 1 --style basic --export-json "$WORK/export.json" \
  --prepare "sync" \
  -n "haid-models export" "target/release/haid-models --cache-dir $SRC export bench/big -o $OUT/ours.tar 2>/dev/null" \
  -n "tar -cf" "tar -cf $OUT/tar.tar -C $SRC models--bench--big" >&2
echo "==> import" >&2
hyperfine --runs "$RUNS" --warmup 1 --style basic --export-json "$WORK/import.json" \
  --prepare "rm -rf $OUT/dst && mkdir -p $OUT/dst && cat $OUT/ours.tar > /dev/null && sync" \
  -n "haid-models import" "target/release/haid-models --cache-dir $OUT/dst import $OUT/ours.tar 2>/dev/null" \
  -n "tar -xf" "tar -xf $OUT/ours.tar -C $OUT/dst" >&2

"$PY" - "$WORK" "$BIG_MB" <<'PYEOF'
import json, sys
work, mb = sys.argv[1], int(sys.argv[2])
for step, ours, ref in (("export", "haid-models export", "tar -cf"), ("import", "haid-models import", "tar -xf")):
    r = {x["command"]: x["mean"] for x in json.load(open(f"{work}/{step}.json"))["results"]}
    o, t = r[ours], r[ref]
    print(f"{step}: haid-models {o:5.2f} s ({mb / o:5.0f} MiB/s), {ref} {t:5.2f} s ({mb / t:5.0f} MiB/s): {t / o * 100:4.0f} % of tar's throughput (goal >= 80 %)")
PYEOF
