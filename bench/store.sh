#!/usr/bin/env bash
# Deleting and pruning in a cache with huggingface_hub 2.5's shared store, side by side
# in one run with the reference (`hf cache rm`, `hf cache prune`), and what each touches.
# Cache: bench/gen_cache.py --shared (2,000 repos, half the big blobs in the store, each
# payload shared by a pair of repos); each timed run starts from a fresh copy.
# Goal (issue 28): delete and prune touch only the payloads they concern, never the
# whole store: strace counts the store's payload paths ours opens or stats (the
# reference is not traced: under strace its scan of 2,000 repos takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

REPOS=${REPOS:-2000}
RUNS=${RUNS:-5}
WORK=${BENCH_DIR:-target/bench/scan-shared}
BASE=$WORK/hub
RUN=$WORK/run
HF=target/venv/bin/hf

command -v hyperfine >/dev/null || { echo "==> installing hyperfine" >&2; apt-get install -y -qq hyperfine >/dev/null; }
command -v strace >/dev/null || { echo "==> installing strace" >&2; apt-get install -y -qq strace >/dev/null; }
cargo build --release -q -p haid-models
BIN=target/release/haid-models
ensure_cache "$WORK" "$BASE" "$REPOS" --shared
PAYLOADS=$(find "$BASE/blobs" -type f ! -name '*.*' | wc -l)
echo "==> $REPOS repos, $PAYLOADS payloads in the store; $(nproc) cores" >&2

fresh() { rm -rf "$RUN" && cp -a "$BASE" "$RUN"; }
# Three repos removed by hand (as an older client would): their payloads become unreferenced.
orphaned() { fresh && rm -rf "$RUN"/models--org{1,3,5}--model-{1,3,5}; }

# Which payloads a command opens or stats (strace), against how many the store holds.
touched() {
  local log=$WORK/strace.log
  strace -f -qq -e trace=%file -o "$log" "$@" >/dev/null 2>&1 || true
  grep -oE "$RUN/blobs/[0-9a-f]{2}/[0-9a-f]{64}\"" "$log" | sort -u | wc -l
}
fresh; ours_rm=$(touched "$BIN" delete org0/model-0 --yes --cache-dir "$RUN")
orphaned; ours_prune=$(touched "$BIN" prune --yes --cache-dir "$RUN")

FRESH="rm -rf $RUN && cp -a $BASE $RUN"
ORPHANED="$FRESH && rm -rf $RUN/models--org1--model-1 $RUN/models--org3--model-3 $RUN/models--org5--model-5"
hyperfine --runs "$RUNS" --style basic --export-json "$WORK/store.json" \
  --prepare "$FRESH" -n "haid-models delete" "$BIN delete org0/model-0 --yes --cache-dir $RUN" \
  --prepare "$FRESH" -n "hf cache rm" "$HF cache rm model/org0/model-0 --yes --cache-dir $RUN" \
  --prepare "$ORPHANED" -n "haid-models prune" "$BIN prune --yes --cache-dir $RUN" \
  --prepare "$ORPHANED" -n "hf cache prune" "$HF cache prune --yes --cache-dir $RUN" >&2

"$PY" - "$WORK/store.json" "$PAYLOADS" "$ours_rm" "$ours_prune" <<'PYEOF'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
payloads, ours_rm, ours_prune = map(int, sys.argv[2:])
print(f"delete: haid-models {r['haid-models delete']*1000:7.1f} ms, hf cache rm {r['hf cache rm']*1000:7.1f} ms"
      f" -> {r['hf cache rm']/r['haid-models delete']:5.1f}x faster")
print(f"prune:  haid-models {r['haid-models prune']*1000:7.1f} ms, hf cache prune {r['hf cache prune']*1000:7.1f} ms"
      f" -> {r['hf cache prune']/r['haid-models prune']:5.1f}x faster")
print(f"payloads opened or stat'ed by delete: {ours_rm} of {payloads} (the repo shares one payload per big file)")
print(f"payloads opened or stat'ed by prune:  {ours_prune} of {payloads} (three repos removed by hand orphan theirs)")
PYEOF
