#!/usr/bin/env bash
# Watcher latency and idle cost on a cache of 2,000 repos (bench/gen_cache.py):
# another process writes and deletes 20 models; the time from each write to the
# event line of `haid-models watch --json`, p50/p95/max, then CPU over 60 idle s.
# There is no reference to run beside it: huggingface_hub, LM Studio, Jan and Ollama
# have no watcher (they notice other tools' changes on restart or refresh).
# Goal (issue 5): p95 <= 300 ms, idle CPU < 1 %.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

REPOS=${REPOS:-2000}
IDLE=${IDLE:-60}
WORK=${BENCH_DIR:-target/bench/watch}
CACHE=$WORK/hub

cargo build --release -q -p haid-models
ensure_cache "$WORK" "$CACHE" "$REPOS"
rm -rf "$CACHE"/models--bench--*
echo "==> haid-models watch on $REPOS repos; $(nproc) cores" >&2
"$PY" bench/watch_latency.py target/release/haid-models "$CACHE" --idle "$IDLE"
