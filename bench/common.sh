# Shared by the bench scripts (sourced): the reference venv and the synthetic cache.
PY=target/venv/bin/python

# ensure_cache WORK CACHE REPOS [--shared]: generates the cache of REPOS repos once,
# reused after (--shared: half its big blobs in huggingface_hub 2.5's shared store).
ensure_cache() {
  local work=$1 cache=$2 repos=$3 shared=${4:-}
  [ -x "$PY" ] || scripts/install-deps.sh
  if [ ! -f "$work/.done-$repos$shared" ]; then
    echo "==> generating $repos repos in $cache $shared" >&2
    rm -rf "$work" && mkdir -p "$work"
    "$PY" bench/gen_cache.py "$cache" --repos "$repos" $shared
    touch "$work/.done-$repos$shared"
  fi
}
