#!/usr/bin/env bash
# Scan speed, side by side in one run: `haid-models scan --json` against the
# reference (Python huggingface_hub.scan_cache_dir) and `du -sL`.
# Cache: 2,000 repos x 20 files x 2 revisions (bench/gen_cache.py), page cache warm.
# Goal (issue 2): >= 15x faster than the reference, no slower than du -sL.
# SHARED=1 (issue 28): the same cache with half its big blobs in huggingface_hub
# 2.5's shared store, each payload shared by two repos; goal >= 15x the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

REPOS=${REPOS:-2000}
RUNS=${RUNS:-10}
SHARED=${SHARED:-}
WORK=${BENCH_DIR:-target/bench/scan${SHARED:+-shared}}
CACHE=$WORK/hub

command -v hyperfine >/dev/null || { echo "==> installing hyperfine" >&2; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q -p haid-models
BIN=target/release/haid-models

ensure_cache "$WORK" "$CACHE" "$REPOS" ${SHARED:+--shared}

# Sanity: both scanners must agree before we time them (repos, and the physical total).
ours=$("$BIN" scan --json --cache-dir "$CACHE" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["repos"]), d["size_on_disk"])')
theirs=$("$PY" tests/py/shared_store.py scan "$CACHE" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["repos"]), d["size_on_disk"])')
[ "$ours" = "$theirs" ] || { echo "scans differ (repos, bytes): ours $ours, reference $theirs" >&2; exit 1; }
[ -z "$SHARED" ] || echo "==> $(find "$CACHE/blobs" -type f ! -name '*.*' | wc -l) payloads in the shared store" >&2
echo "==> $ours repos, $(find "$CACHE" -type l | wc -l) symlinks, $(du -sh "$CACHE" | cut -f1) on disk; $(nproc) cores" >&2

hyperfine --warmup 2 --runs "$RUNS" --style basic --export-json "$WORK/result.json" \
  -n haid-models "$BIN scan --json --cache-dir $CACHE > /dev/null" \
  -n huggingface_hub "$PY tests/py/hf_scan.py $CACHE --quiet > /dev/null" \
  -n "du -sL" "du -sL $CACHE > /dev/null" >&2

"$PY" - "$WORK/result.json" <<'PYEOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, ref, du = r["haid-models"]["mean"], r["huggingface_hub"]["mean"], r["du -sL"]["mean"]
print(f"haid-models {ours*1000:8.1f} ms")
print(f"huggingface_hub {ref*1000:8.1f} ms   -> haid-models is {ref/ours:5.1f}x faster (goal >= 15x)")
print(f"du -sL      {du*1000:8.1f} ms   -> haid-models takes {ours/du:5.2f}x the time of du -sL (goal <= 1.0)")
PYEOF
