#!/usr/bin/env bash
# Manifest loading, side by side in one run: `haid-models list --manifest FILE --json`
# (empty cache, so the time is the manifest's: read, parse, validate, merge over the
# bundled one, print) against the reference, Python's `json.load` of the same file
# (`python3 -c`, interpreter start included, as ours includes its process start).
# RUNS=N runs of each (default 10); SIZES="…" other sizes.
# Manifests of 1k, 10k and 40k models in four types, written as the bundled one is.
# Goal (issue 14): linear — 40k models take about 4x the time of 10k, not 16x
# (before the fix: 10k in 8.4 s, 40k in 185 s).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 10000 40000"}
RUNS=${RUNS:-10}
WORK=${BENCH_DIR:-target/bench/manifest}

command -v hyperfine >/dev/null || { echo "==> installing hyperfine" >&2; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q -p haid-models
BIN=target/release/haid-models
# The interpreter itself, not a wrapper (a pyenv shim adds 100 ms per start).
PY3=$(python3 -c 'import sys; print(sys.executable)')
mkdir -p "$WORK/hub"

# gen N FILE: N models with every field, ids unique across types.
gen() {
  "$PY3" - "$1" "$2" <<'PYEOF'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
types = ["embedding", "caption", "reranker", "ocr"]
manifest = {t: [] for t in types}
for i in range(n):
    org = f"org{i % 97}"
    manifest[types[i % len(types)]].append({
        "id": f"{org}/model-{i}", "name": f"Model {i}", "team": org,
        "dimensions": 768, "size_mb": 100 + i,
        "link": f"https://huggingface.co/{org}/model-{i}"})
json.dump(manifest, open(path, "w"), indent=2)
PYEOF
}

for n in $SIZES; do
  file=$WORK/models-$n.json
  [ -f "$file" ] || gen "$n" "$file"
  # Sanity: every model is listed before anything is timed.
  listed=$("$BIN" list --manifest "$file" --json --cache-dir "$WORK/hub" |
    "$PY3" -c 'import json,sys; print(sum(len(g["models"]) for g in json.load(sys.stdin)["groups"]))')
  [ "$listed" -ge "$n" ] || { echo "$file: listed $listed models of $n" >&2; exit 1; }
  echo "==> $n models, $(du -h "$file" | cut -f1); $(nproc) cores" >&2
  hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$WORK/result-$n.json" \
    -n haid-models "$BIN list --manifest $file --json --cache-dir $WORK/hub > /dev/null" \
    -n json.load "$PY3 -c 'import json; json.load(open(\"$file\"))'" >&2
done

"$PY3" - "$WORK" $SIZES <<'PYEOF'
import json, sys
work, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
mean = {}
print(f"{'models':>7}  {'haid-models':>12}  {'json.load':>10}  ratio")
for n in sizes:
    r = {x["command"]: x["mean"] for x in json.load(open(f"{work}/result-{n}.json"))["results"]}
    mean[n] = r["haid-models"]
    print(f"{n:>7}  {r['haid-models']*1000:9.1f} ms  {r['json.load']*1000:7.1f} ms  "
          f"{r['haid-models']/r['json.load']:5.2f}x the time of json.load")
for a, b in zip(sizes, sizes[1:]):
    print(f"{a} -> {b} models: time x{mean[b]/mean[a]:.1f} (linear: x{b/a:.0f})")
PYEOF
